// Errors a user can hit. Every one says what went wrong, why, and what to do; the CLI
// prints the message (never a stack trace) and exits with `exitCode`.
export class MshError extends Error {
  constructor(message: string, readonly hint?: string, readonly exitCode = 1) {
    super(message);
  }
}

/** Bad command-line usage: exit code 2, as is customary. */
export class UsageError extends MshError {
  constructor(message: string, hint = 'run `msh help` for usage') {
    super(message, hint, 2);
  }
}
