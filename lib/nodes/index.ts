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
export { compileFormat, MAX_RANGE_LABEL_NODES, rangeLabelNodes, rangeLabelSource } from "./range-label";
export { emptySource } from "./empty";
export { builtinNodeSources, fetchNodeSpecs, loadNodes, type NodeSettings } from "./load";
