// The agent wire protocol, importable alone by the hub, agents and the simulator: it depends on
// typebox and node builtins only, never on src/hub or src/db.
export * from './constants.ts'
export * from './codes.ts'
export * from './messages.ts'
export * from './safe-json.ts'
export * from './codec.ts'
export * from './text.ts'
export * from './ids.ts'
export * from './time.ts'
export * from './features.ts'
export * from './provision-messages.ts'
export * from './console-messages.ts'
