// Protocol 1.1 features (PROTOCOL.md "Version 1.1 additions"). `protocol` stays 1; an agent asks
// for features in `hello.features`, the hub answers the intersection with what it enables in
// `welcome.features`, and from then on each side sends frames of negotiated features only. A frame
// of a feature that was not negotiated is a BAD_FRAME: featureOfAgentFrame tells the hub which
// feature (if any) a decoded frame belongs to.

export const FEATURE = {
  /** Server configuration: `server.config`, `server.config.ack`, `server.removed`; `INSTALL`. */
  PROVISION: 'provision',
  /** Console output (`console`) and input (`COMMAND` actions). */
  CONSOLE: 'console',
  /** Resource usage (`stats`). */
  STATS: 'stats'
} as const

export type Feature = typeof FEATURE[keyof typeof FEATURE]

/** Every feature this protocol version defines, in a stable order. */
export const FEATURES: readonly Feature[] = Object.values(FEATURE)

/** `hello.features`: at most this many names... */
export const MAX_FEATURES = 16
/** ...each of 1 to this many characters. */
export const MAX_FEATURE_NAME_LENGTH = 32

/** The feature each agent -> hub frame type belongs to; types not listed are v1 (always allowed). */
export const AGENT_FRAME_FEATURE: ReadonlyMap<string, Feature> = new Map<string, Feature>([
  ['console', FEATURE.CONSOLE],
  ['stats', FEATURE.STATS],
  ['server.config.ack', FEATURE.PROVISION]
])

/** The feature each hub -> agent frame type belongs to; the hub never sends these unnegotiated. */
export const HUB_FRAME_FEATURE: ReadonlyMap<string, Feature> = new Map<string, Feature>([
  ['server.config', FEATURE.PROVISION],
  ['server.removed', FEATURE.PROVISION]
])

/** The feature an agent -> hub frame of this type needs, or null for a v1 frame. */
export function featureOfAgentFrame (type: string): Feature | null {
  return AGENT_FRAME_FEATURE.get(type) ?? null
}

/** The feature a hub -> agent frame of this type needs, or null for a v1 frame. */
export function featureOfHubFrame (type: string): Feature | null {
  return HUB_FRAME_FEATURE.get(type) ?? null
}

export function isFeature (name: string): name is Feature {
  return (FEATURES as readonly string[]).includes(name)
}

/**
 * `welcome.features` for a `hello`: undefined when the hello carried no `features` (a v1 agent,
 * whose welcome must not have the field), else the requested names the hub enables, once each, in
 * the order of FEATURES (possibly empty). Unknown names are ignored.
 */
export function negotiateFeatures (
  requested: readonly string[] | undefined,
  enabled: readonly Feature[]
): Feature[] | undefined {
  if (requested === undefined) return undefined
  return FEATURES.filter((f) => enabled.includes(f) && requested.includes(f))
}
