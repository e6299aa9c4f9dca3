// Proposal files: the POST /v1/registry/proposals body, signatures optional.
import { ApiError } from '@ron/kernel/core';
import { parseProposalBody, type Signature, type Subject } from '@ron/registry/protocol';
import { CliError, readJsonFile } from './context.js';

/** `{op:"publish"|"deprecate", descriptor}` or `{op:"signers", version, signers:{signers, threshold}}`, optional `signatures`. */
export type ProposalFile = Record<string, unknown>;

/** Validates a proposal file exactly as the registry will. */
export function proposalSubject(
  v: unknown,
  path = 'proposal',
): { subject: Subject; signatures: Signature[] } {
  try {
    return parseProposalBody(v);
  } catch (err) {
    if (err instanceof ApiError)
      throw new CliError(
        `${path}: ${err.message}`,
        err.hint ?? 'see docs/governance.md for the proposal file format',
      );
    throw err;
  }
}

export function readProposal(path: string): { subject: Subject; signatures: Signature[] } {
  return proposalSubject(readJsonFile(path, 'proposal file'), path);
}

/** The request body for a subject plus signatures. */
export function proposalBody(subject: Subject, signatures: Signature[]): Record<string, unknown> {
  if (subject.op === 'signers') {
    const { version, signers, threshold } = subject.signers;
    return { op: 'signers', version, signers: { signers, threshold }, signatures };
  }
  return { op: subject.op, descriptor: subject.descriptor, signatures };
}
