// The Debian packages the test suite runs besides Node: one list, read by scripts/test-setup.mjs
// (which installs what is missing before `npm test` runs the suite) and by the specs that use
// them (which fail, naming the package, when it is missing: a skipped interop spec would read as
// tested when nothing was). No spec skips itself: there is no way to leave a package out.
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
      'spec/robustness/network.spec.ts, spec/observables/limits.spec.ts and spec/interop/roomsPython.spec.ts: an independent WebSocket client and server (spec/fixtures/*.py)',
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

/** The command that installs `names`, for a user who is not root (`sudo` is 'sudo ' or ''). */
export function installCommand(names, sudo = '') {
  return `${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends ${names.join(' ')}`;
}

/** For a spec that needs a package: throws an error naming the package when it is missing. */
export function checkTool(name) {
  const tool = TEST_TOOLS.find((candidate) => candidate.name === name);
  if (!tool) throw new Error(`checkTool: ${name} is not in scripts/testTools.mjs`);
  if (present(tool)) return;
  throw new Error(
    `the Debian package ${name} is missing (${tool.usedBy}): \`npm test\` installs it when run as root; ` +
      `or run \`${installCommand([name])}\``,
  );
}
