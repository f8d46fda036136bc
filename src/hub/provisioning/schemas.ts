// Request body parts for server configurations and templates (PROTOCOL.md 1.1), shared by the
// servers and alts routes. Shapes and sizes only: what needs the template to decide (unknown
// placeholders, required variables, regexes) is checked in template.ts and resolve.ts, whose
// refusals name the field.
import Type from 'typebox'
import { Text } from '../../agent-protocol/text.ts'

const VARIABLE_PATTERN = '^[A-Z][A-Z0-9_]{0,63}$'

/** `{NAME: value}`: at most 64 variables, each value at most 4,096 characters of storable text. */
export const Environment = Type.Record(Type.String({ pattern: VARIABLE_PATTERN }), Text({ maxLength: 4_096 }), { maxProperties: 64 })

export const MemoryLimitMb = Type.Union([Type.Integer({ minimum: 64, maximum: 1_048_576 }), Type.Null()])

export const AutoRestartBody = Type.Object({
  enabled: Type.Boolean(),
  maxRestarts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  windowS: Type.Optional(Type.Integer({ minimum: 10, maximum: 86_400 }))
}, { additionalProperties: false })

export const StopBody = Type.Object({
  type: Type.Union([Type.Literal('command'), Type.Literal('signal')]),
  value: Text({ minLength: 1, maxLength: 256 }),
  graceS: Type.Optional(Type.Integer({ minimum: 1, maximum: 3_600 }))
}, { additionalProperties: false })

export const VariableBody = Type.Object({
  // The name's pattern is checked in template.ts, so the answer names the variable's index.
  name: Type.String({ minLength: 1, maxLength: 64 }),
  default: Type.Optional(Text({ maxLength: 4_096 })),
  description: Type.Optional(Text({ maxLength: 1_024 })),
  required: Type.Optional(Type.Boolean())
}, { additionalProperties: false })

/** The template fields of POST and PATCH /api/alts. */
export const TemplateFields = {
  name: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.-]+$' }),
  image: Text({ minLength: 1, maxLength: 512 }),
  startup: Text({ minLength: 1, maxLength: 4_096 }),
  stop: StopBody,
  doneRegex: Type.Union([Text({ minLength: 1, maxLength: 512 }), Type.Null()]),
  install: Type.Union([Text({ minLength: 1, maxLength: 32_768 }), Type.Null()]),
  variables: Type.Array(VariableBody, { maxItems: 64 })
}
