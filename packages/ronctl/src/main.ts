// ronctl: operator CLI for RON (SPEC §5). One file per command under commands/.
import { Command } from 'commander';
import { buildInfo } from '@ron/kernel';
import { capMint } from './commands/cap-mint.js';
import { indexNames } from './commands/index-names.js';
import { keygen } from './commands/keygen.js';
import { mailbox } from './commands/mailbox.js';
import { registryApply } from './commands/registry-apply.js';
import { registryApprove } from './commands/registry-approve.js';
import { registryGet } from './commands/registry-get.js';
import { registryHead } from './commands/registry-head.js';
import { registryPropose } from './commands/registry-propose.js';
import { registryPublish } from './commands/registry-publish.js';
import { registryVerify } from './commands/registry-verify.js';
import { registryWatch } from './commands/registry-watch.js';
import { sign } from './commands/sign.js';
import { status } from './commands/status.js';

export function buildProgram(): Command {
  const program = new Command('ronctl')
    .description('RON operator CLI: keys, signing, registry governance, watch, verify, status')
    .version(buildInfo().version, '-V, --version')
    .option('--registry <url>', 'svc-registry API URL (env RON_REGISTRY_URL; default http://127.0.0.1:9444)')
    .option('--admin <url>', 'macronode admin URL (env RON_ADMIN_URL; default http://127.0.0.1:8080)')
    .option('--registry-id <id>', 'registry id inside signed messages (env RON_REGISTRY_ID; default "default")')
    .option('--token <macaroon>', 'capability for governance writes (env RON_REGISTRY_TOKEN)')
    .option('--json', 'machine-readable JSON output')
    .showHelpAfterError();
  keygen(program);
  sign(program);
  const registry = program.command('registry').description('svc-registry: head, descriptors, proposals, watch, verify');
  registryHead(registry);
  registryGet(registry);
  registryPropose(registry);
  registryApprove(registry);
  registryApply(registry);
  registryPublish(registry);
  registryWatch(registry);
  registryVerify(registry);
  const cap = program.command('cap').description('capabilities (macaroons) for governance writes');
  capMint(cap);
  status(program);
  indexNames(program);
  mailbox(program);
  return program;
}

/** Entry point of bin/ronctl.js. */
export function cli(argv = process.argv): void {
  buildProgram()
    .parseAsync(argv)
    .catch((err: unknown) => {
      process.stderr.write(`error: ${(err as Error).message}\n`);
      process.exitCode = 1;
    });
}
