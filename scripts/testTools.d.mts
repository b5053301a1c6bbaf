// Types of scripts/testTools.mjs, for the specs that import it.

export interface TestTool {
  /** The Debian package. */
  readonly name: string;
  /** What the specs run from it. */
  readonly path: string;
  /** A module `path` (a python3) must import, when the package is one. */
  readonly pythonModule?: string;
  /** Which specs need it, and for what. */
  readonly usedBy: string;
}

export const TEST_TOOLS: readonly TestTool[];
export function present(tool: TestTool): boolean;
export function toolsLeftOut(env?: NodeJS.ProcessEnv): Set<string>;
export function installCommand(names: readonly string[], sudo?: string): string;
export function checkTool(name: string): 'skip' | undefined;
