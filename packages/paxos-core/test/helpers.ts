import {
  newEffects,
  type AcceptedMsg,
  type Effects,
  type Envelope,
  type Message,
  type MessageType,
  type PromiseMsg,
} from '../src/index.js';

export const enc = (s: string): Uint8Array => new Uint8Array(Array.from(s, (c) => c.charCodeAt(0)));
export const dec = (b: Uint8Array): string => String.fromCharCode(...b);

export function fx(): Effects {
  return newEffects();
}

/** Messages of one type in `out.send`, with their envelopes. */
export function sent<T extends MessageType>(out: Effects, type: T): (Envelope & { msg: Extract<Message, { type: T }> })[] {
  return out.send.filter((e) => e.msg.type === type) as (Envelope & { msg: Extract<Message, { type: T }> })[];
}

export function msgs<T extends MessageType>(out: Effects, type: T): Extract<Message, { type: T }>[] {
  return sent(out, type).map((e) => e.msg);
}

export function promise(aid: number, iid: number, ballot: number, valueBallot = 0, value: Uint8Array = new Uint8Array(0)): PromiseMsg {
  return { type: 'promise', aid, iid, ballot, valueBallot, value };
}

export function accepted(aid: number, iid: number, ballot: number, value: Uint8Array, valueBallot = ballot): AcceptedMsg {
  return { type: 'accepted', aid, iid, ballot, valueBallot, value };
}
