// Public surface of lib/nodes: the node-source contract and registry, the pure built-in sources,
// and one nodes refresh producing a NodeTree.
export {
  describePref,
  levelBelowParents,
  levelIndex,
  NodeSourceError,
  NodeSourceRegistry,
  type NodeSource,
  type NodeSourceContext,
} from "./source";
export { manualNodes, manualSource } from "./manual";
export { compileFormat } from "./format";
export { rangeLabelNodes, rangeLabelSource } from "./range-label";
export { nodeSourceIssues } from "./check";
export { emptySource } from "./empty";
export { builtinNodeSources, fetchNodeSpecs, loadNodes, type NodeSettings } from "./load";
export {
  addTimeNextChange,
  addTimeNodes,
  addTimeSource,
  DEFAULT_TIME_ZONE,
  MAX_ADD_TIME_NODES,
  MAX_ADD_TIME_SLOTS,
} from "./add-time";
export { CronError, parseCron, type CronItem } from "./cron";
export { TimeZone, TimeZoneError } from "./time-zone";
export {
  createScriptSource,
  DEFAULT_SCRIPT_TIMEOUT_SEC,
  mapLimited,
  MAX_SCRIPT_OUTPUT_BYTES,
  MAX_SCRIPT_TIMEOUT_SEC,
  runNodeScript,
  SCRIPT_CONCURRENCY,
  ScriptError,
  scriptPrefs,
} from "./script";
