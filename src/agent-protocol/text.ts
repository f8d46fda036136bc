// Free text that PostgreSQL can store. JSON happily carries "\u0000" and lone surrogates such as
// "\ud800"; PostgreSQL's text and jsonb refuse both, so a frame carrying one would fail the
// whole group-committed batch it lands in, for every agent in it, again on every resend. The
// codec refuses such strings up front, as BAD_FRAME. `Text()` is a string schema with this check.
import Type, { type TString } from 'typebox'
import Format from 'typebox/format'

export const TEXT_FORMAT = 'storable-text'

/** No U+0000 and no unpaired surrogate. */
export const isStorableText = (value: string): boolean => value.isWellFormed() && !value.includes('\u0000')

Format.Set(TEXT_FORMAT, isStorableText)

export const Text = (options: { minLength?: number, maxLength?: number, pattern?: string } = {}): TString =>
  Type.String({ ...options, format: TEXT_FORMAT })

export const LINE_FORMAT = 'storable-line'

/** Storable text on one line: no CR and no LF either. */
export const isStorableLine = (value: string): boolean =>
  isStorableText(value) && !value.includes('\n') && !value.includes('\r')

Format.Set(LINE_FORMAT, isStorableLine)

/** A string schema for one line of storable text (console input, a stop command). */
export const Line = (options: { minLength?: number, maxLength?: number } = {}): TString =>
  Type.String({ ...options, format: LINE_FORMAT })
