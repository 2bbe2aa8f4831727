/** This build of libpaxos-ts, as peers see it in `hello` (kept equal to package.json by a test). */
export const VERSION = '0.1.0';
