export { cli, buildProgram } from './main.js';
export { CliError } from './context.js';
export { proposalSubject, type ProposalFile } from './proposal.js';
