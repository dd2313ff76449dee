/**
 * Base class of every error Switchyard raises on purpose. Subclasses are one per condition, carry
 * structured fields, and get `name` set to the class name so logs and `instanceof`-free callers
 * can tell them apart.
 */
export class SwitchyardError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
