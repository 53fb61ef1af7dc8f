/**
 * Which component identifiers a `caa` signature may cover: the four derived components of the
 * profile, and fields named in lowercase.
 *
 * @internal
 * @module protocol/http-signatures/components
 */

import { CAA_V2_REQUIRED_COMPONENTS } from './profile.js';

/** The derived components the profile computes (RFC 9421 §2.2); any other `@` name is refused. */
const DERIVED_COMPONENTS: ReadonlySet<string> = new Set(CAA_V2_REQUIRED_COMPONENTS);

/** Lowercase token characters (RFC 9110 §5.1, RFC 9421 §2.1); the table covers ASCII only. */
const FIELD_NAME_CHARS = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~") FIELD_NAME_CHARS[c.charCodeAt(0)] = 1;

const AT = 0x40;

/**
 * True when `name` is a field name as RFC 9421 writes it: non-empty, lowercase token characters.
 * @internal
 */
export function isFieldName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) if (FIELD_NAME_CHARS[name.charCodeAt(i)] !== 1) return false;
  return true;
}

/**
 * True when `name` starts with `@`: a derived component rather than a field.
 * @internal
 */
export function isDerived(name: string): boolean {
  return name.charCodeAt(0) === AT;
}

/**
 * True when a `caa` signature may cover `name`: one of {@link CAA_V2_REQUIRED_COMPONENTS}, or a field name.
 * @internal
 */
export function isCoverable(name: string): boolean {
  return isDerived(name) ? DERIVED_COMPONENTS.has(name) : isFieldName(name);
}
