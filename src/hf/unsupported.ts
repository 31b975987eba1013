/** A config or checkpoint that cannot be translated; `field` names what, `message` says why and what is supported. */
export class HfUnsupported extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message)
  }
}
