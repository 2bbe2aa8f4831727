// Types of cluster.mjs for the TypeScript tests that import it.
export interface ClusterRun {
  readonly runtime: { readonly name: string; readonly version: string };
  readonly delivered: readonly { readonly iid: number; readonly value: string }[];
  readonly steps: number;
}
export declare const VALUES: number;
export declare function valueText(i: number): string;
export declare function describeRuntime(): ClusterRun['runtime'];
export declare function runCluster(core: unknown, values?: number): ClusterRun;
export declare function checkDeliveries(delivered: ClusterRun['delivered'], values?: number): string[];
