// The Debian packages the test suite runs besides Node: one list, read by scripts/test-setup.mjs
// (which installs what is missing before `npm test` runs the suite) and by the specs that use
// them (which fail, naming the package, when it is missing: a skipped interop spec would read as
// tested when nothing was).
//
// RXWP_TEST_WITHOUT=chromium,godot3-server runs the suite without those packages on purpose: the
// set-up does not ask for them and the specs that need them are skipped (pending), not failed.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

/** @param {string} path */
function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// Debian's Python modules import only under Debian's own python3, not a python3 earlier on PATH.
const PYTHON = '/usr/bin/python3';

/** @type {readonly import('./testTools.d.mts').TestTool[]} */
export const TEST_TOOLS = [
  {
    name: 'python3',
    path: PYTHON,
    usedBy: 'spec/peer/WebSocketPeer.spec.ts reads TCP_NODELAY from the kernel (pidfd_getfd + getsockopt)',
  },
  {
    name: 'python3-websockets',
    path: PYTHON,
    pythonModule: 'websockets',
    usedBy:
      'spec/robustness/network.spec.ts and spec/interop/roomsPython.spec.ts: an independent WebSocket client and server (spec/fixtures/*.py)',
  },
  {
    name: 'openssl',
    path: '/usr/bin/openssl',
    usedBy: 'spec/observables/tls.spec.ts makes its CA and certificates at test time',
  },
  {
    name: 'chromium',
    path: '/usr/bin/chromium',
    usedBy: 'spec/browser/browser.spec.ts and examples/angular: the browser build in headless Chromium',
  },
  {
    name: 'redis-server',
    path: '/usr/bin/redis-server',
    usedBy:
      'spec/rooms/engines.spec.ts and spec/rooms/redisFaults.spec.ts: Redis 7, started by the specs on a free port of 127.0.0.1, no config file',
  },
  {
    name: 'godot3-server',
    path: '/usr/bin/godot3-server',
    usedBy: 'spec/interop/godot.spec.ts and spec/codec/variant.spec.ts: the reference engine, headless',
  },
];

/** Whether `tool` can be used: its program is there, and imports its Python module if it has one. */
export function present(tool) {
  if (!executable(tool.path)) return false;
  return (
    !tool.pythonModule || spawnSync(tool.path, ['-c', `import ${tool.pythonModule}`], { stdio: 'ignore' }).status === 0
  );
}

/** The packages RXWP_TEST_WITHOUT names; an unknown name is an error, never ignored. */
export function toolsLeftOut(env = process.env) {
  const names = (env.RXWP_TEST_WITHOUT ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const known = new Set(TEST_TOOLS.map((tool) => tool.name));
  const unknown = names.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new Error(
      `RXWP_TEST_WITHOUT names ${unknown.join(', ')}, which the suite does not use; it knows ${[...known].join(', ')}`,
    );
  }
  return new Set(names);
}

/** The command that installs `names`, for a user who is not root (`sudo` is 'sudo ' or ''). */
export function installCommand(names, sudo = '') {
  return `${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends ${names.join(' ')}`;
}

/**
 * For a spec that needs a package: 'skip' when RXWP_TEST_WITHOUT leaves it out, else `undefined`
 * when it is there; throws an error naming the package when it is missing.
 */
export function checkTool(name) {
  const tool = TEST_TOOLS.find((candidate) => candidate.name === name);
  if (!tool) throw new Error(`checkTool: ${name} is not in scripts/testTools.mjs`);
  if (toolsLeftOut().has(name)) return 'skip';
  if (present(tool)) return undefined;
  throw new Error(
    `the Debian package ${name} is missing (${tool.usedBy}): \`npm test\` installs it when run as root; ` +
      `or run \`${installCommand([name])}\`, or set RXWP_TEST_WITHOUT=${name} to leave these specs out`,
  );
}
