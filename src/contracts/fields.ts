/**
 * A fingerprint field: one named value of the list a stage instance's cache key is hashed from
 * (src/engine/fingerprint.ts documents the list). The list is stored with each execution so
 * `peftlab why` can say which field changed.
 */
export type Field = readonly [name: string, value: unknown]
