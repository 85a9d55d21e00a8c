export * from './lib/constants';
export * from './lib/types';
export {
  DEFAULT_BEHAVIOR,
  InvalidScalingInputError,
  resolveBehavior,
  resolveScalingConfig,
} from './lib/config';
export {
  LimitReason,
  calculateScaleDownLimit,
  calculateScaleUpLimit,
  convertDesiredReplicasWithBehaviorRate,
  externalPerPodReplicas,
  replicasChangePerPeriod,
  resourceUtilizationReplicas,
  stabilizeRecommendation,
  storeScaleEvent,
} from './lib/hpa-algorithm';
export {
  ScalingReason,
  recommendReplicas,
  type MetricsDesired,
  type RecommendInput,
  type Recommendation,
} from './lib/recommend';
export {
  HPA_API_VERSION_V2,
  HPA_API_VERSION_V2BETA2,
  toHpaManifest,
  toHpaSpec,
  toHpaSpecV2beta2,
  toQuantity,
  type HpaApiVersion,
  type HpaManifest,
  type HpaMetricSpec,
  type HpaMetricTarget,
  type HpaPoolInput,
  type HpaSpec,
} from './lib/hpa-spec';
export {
  CpuMode,
  TraceFileSchema,
  TracePointSchema,
  formatTimeline,
  parseTrace,
  simulate,
  type SimulateOptions,
  type TimelineRow,
  type TraceFile,
  type TracePoint,
} from './lib/simulate';
export { escapeXml, niceScale, renderTimelineSvg, type SvgOptions } from './lib/svg';
