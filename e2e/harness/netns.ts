/**
 * Real network partitions between browsers on one Linux host: each node gets its own network
 * namespace, joined to a bridge in the root namespace by a veth pair, with an address and a
 * default route (a namespace with only loopback gives WebRTC no ICE candidates at all). A cut is
 * an iptables DROP rule inside the receiving node's namespace, so packets really stop, not just
 * messages in the app.
 *
 * Only addresses of 198.18.0.0/15 (RFC 2544: reserved for network benchmark tests) are used,
 * so nothing here can reach or impersonate a real host.
 *
 * Every name starts with `engr<pid>` (the run's prefix), so parallel runs do not collide and a
 * later run can tell what a crashed one left behind: `removeLeftovers()` deletes the objects
 * of prefixes whose process is gone. Every command is checked; a failure is a NetnsError.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const IP = process.env.ENGRAM_IP_PATH ?? '/usr/sbin/ip';
export const IPTABLES = process.env.ENGRAM_IPTABLES_PATH ?? '/usr/sbin/iptables';

/** Our chain in each namespace's filter table, hooked into INPUT: heal = flush it. */
const CUT_CHAIN = 'ENGRAM-CUTS';
/** Interface names are at most 15 bytes (IFNAMSIZ - 1): `engr` + 7-digit pid + `h` + 2 digits fits. */
export const MAX_NODES = 99;
const PREFIX_PATTERN = /^engr(\d+)(?:br|h\d+|n\d+)$/;

export type NetnsErrorCode = 'command-failed' | 'no-free-subnet' | 'too-many-nodes' | 'unavailable';

export class NetnsError extends Error {
  constructor(
    readonly code: NetnsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'NetnsError';
  }
}

/** Runs a command and resolves with its stdout; rejects with a NetnsError carrying its stderr. */
export function run(command: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => reject(new NetnsError('command-failed', `${command} ${args.join(' ')}: ${error.message}`, { cause: error })));
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new NetnsError('command-failed', `${command} ${args.join(' ')} exited ${code ?? 'by signal'}: ${stderr.trim()}`));
    });
    if (input !== undefined) {
      // A command that exits before reading its input fails on its own; its exit code says why.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(input);
    }
  });
}

/** Whether this machine can make hard partitions, and if not, why (for the fallback notice). */
export type Capability = { readonly available: true } | { readonly available: false; readonly reason: string };

let capabilityCache: Promise<Capability> | undefined;

/** Root, iproute2, iptables, and a namespace in which iptables works. Probed once per process. */
export function hardPartitionsAvailable(): Promise<Capability> {
  capabilityCache ??= probeCapability();
  return capabilityCache;
}

async function probeCapability(): Promise<Capability> {
  if (process.platform !== 'linux') return { available: false, reason: `network namespaces are Linux only (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { available: false, reason: 'not root (namespaces and iptables need root)' };
  for (const [tool, path, versionFlag] of [['iproute2', IP, '-V'], ['iptables', IPTABLES, '--version']] as const) {
    try {
      await run(path, [versionFlag]);
    } catch {
      return { available: false, reason: `${tool} not found at ${path} (run scripts/ensure-netns-tools.sh)` };
    }
  }
  const probe = `engr${process.pid}n99`;
  try {
    await run(IP, ['netns', 'add', probe]);
    await run(IP, ['netns', 'exec', probe, IPTABLES, '-w', '-S', 'INPUT']);
    return { available: true };
  } catch (error) {
    return { available: false, reason: `cannot create a network namespace with iptables in it: ${(error as Error).message}` };
  } finally {
    await run(IP, ['netns', 'del', probe]).catch(() => undefined);
  }
}

/** One node's place in the network. */
export interface NamespaceNode {
  readonly index: number;
  /** The namespace name, for `ip netns exec`. */
  readonly namespace: string;
  /** The node's IPv4 address (198.18.x.(10 + index)). */
  readonly address: string;
  /** A script that runs Chromium inside the namespace: Playwright's executablePath. */
  readonly chromiumWrapper: string;
}

export interface NetworkOptions {
  readonly nodes: number;
  readonly chromiumPath: string;
  /** Run prefix; `engr<pid>` by default. Tests of this module use their own. */
  readonly prefix?: string;
}

/**
 * The bridge, namespaces and rules of one run. Create with `Network.create`; `destroy()` (or the
 * exit hook it registers) removes them all.
 */
export class Network {
  private destroyed = false;
  /** Per receiving node, the sources whose packets it drops (what is installed now). */
  private readonly installedDrops: Set<number>[];
  private readonly exitHook: () => void;

  private constructor(
    readonly prefix: string,
    readonly bridgeName: string,
    /** The root namespace's address on the bridge: where the nodes reach the signaling server. */
    readonly hostAddress: string,
    readonly nodes: readonly NamespaceNode[],
    private readonly scratchDir: string,
  ) {
    this.installedDrops = nodes.map(() => new Set<number>());
    this.exitHook = () => this.destroySync();
    registerExitHook(this.exitHook);
  }

  static async create(options: NetworkOptions): Promise<Network> {
    if (options.nodes < 1 || options.nodes > MAX_NODES) throw new NetnsError('too-many-nodes', `1 to ${MAX_NODES} nodes, not ${options.nodes}`);
    await removeLeftovers();
    const prefix = options.prefix ?? `engr${process.pid}`;
    const subnet = await freeSubnet();
    const bridgeName = `${prefix}br`;
    const hostAddress = `${subnet}.1`;
    const scratchDir = mkdtempSync(join(tmpdir(), `${prefix}-`));
    const nodes: NamespaceNode[] = [];
    for (let index = 0; index < options.nodes; index++) {
      const namespace = `${prefix}n${index}`;
      const chromiumWrapper = join(scratchDir, `chromium-${namespace}.sh`);
      // exec: the browser replaces the shell, so Playwright's pipe and our kill reach Chromium itself.
      writeFileSync(chromiumWrapper, `#!/bin/sh\nexec ${IP} netns exec ${namespace} ${options.chromiumPath} "$@"\n`, { mode: 0o755 });
      nodes.push({ index, namespace, address: `${subnet}.${10 + index}`, chromiumWrapper });
    }
    const network = new Network(prefix, bridgeName, hostAddress, nodes, scratchDir);
    try {
      await run(IP, ['link', 'add', bridgeName, 'type', 'bridge']);
      await run(IP, ['addr', 'add', `${hostAddress}/24`, 'dev', bridgeName]);
      await run(IP, ['link', 'set', bridgeName, 'up']);
      for (const node of nodes) await network.addNamespace(node);
    } catch (error) {
      await network.destroy();
      throw error;
    }
    return network;
  }

  private async addNamespace(node: NamespaceNode): Promise<void> {
    const hostEnd = `${this.prefix}h${node.index}`;
    const nodeEnd = 'eth0';
    const inNs = (...args: string[]) => run(IP, ['-n', node.namespace, ...args]);
    await run(IP, ['netns', 'add', node.namespace]);
    await run(IP, ['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', nodeEnd, 'netns', node.namespace]);
    await run(IP, ['link', 'set', hostEnd, 'master', this.bridgeName, 'up']);
    await inNs('link', 'set', 'lo', 'up');
    await inNs('addr', 'add', `${node.address}/24`, 'dev', nodeEnd);
    await inNs('link', 'set', nodeEnd, 'up');
    // WebRTC gathers no host candidate on an interface without a default route.
    await inNs('route', 'add', 'default', 'via', this.hostAddress);
    await this.iptables(node, ['-N', CUT_CHAIN]);
    await this.iptables(node, ['-A', 'INPUT', '-j', CUT_CHAIN]);
  }

  private iptables(node: NamespaceNode, args: readonly string[], input?: string): Promise<string> {
    return run(IP, ['netns', 'exec', node.namespace, IPTABLES, '-w', ...args], input);
  }

  /**
   * Makes the installed cuts exactly `drops`: for each receiving node index, the node indexes
   * whose packets it drops. Rules sit on INPUT of the receiver only, so a cut is silent to the
   * sender as on a real network (an OUTPUT DROP would fail its sendmsg with EPERM instead), and
   * it works whether or not br_netfilter makes bridged packets traverse FORWARD. Each
   * namespace's chain is replaced atomically by one iptables-restore, and all in parallel.
   */
  async applyDrops(drops: ReadonlyMap<number, ReadonlySet<number>>): Promise<void> {
    await Promise.all(
      this.nodes.map(async (node) => {
        const wanted = new Set([...(drops.get(node.index) ?? [])].filter((source) => source !== node.index));
        const installed = this.installedDrops[node.index]!;
        if (wanted.size === installed.size && [...wanted].every((source) => installed.has(source))) return;
        const rules = [...wanted].sort((a, b) => a - b).map((source) => `-A ${CUT_CHAIN} -s ${this.nodes[source]!.address}/32 -j DROP`);
        // Declaring the chain in a --noflush restore flushes just that chain, in the same commit.
        const script = ['*filter', `:${CUT_CHAIN} - [0:0]`, ...rules, 'COMMIT', ''].join('\n');
        await run(IP, ['netns', 'exec', node.namespace, 'iptables-restore', '-w', '--noflush'], script);
        this.installedDrops[node.index] = wanted;
      }),
    );
  }

  /** The DROP rules as iptables lists them, per node: for logs and for tests of this module. */
  async listRules(): Promise<string[][]> {
    return Promise.all(
      this.nodes.map(async (node) => (await this.iptables(node, ['-S', CUT_CHAIN])).split('\n').filter((line) => line.startsWith('-A'))),
    );
  }

  /** Pids of every process in a node's namespace: the browser we launched there and its children. */
  async pids(index: number): Promise<number[]> {
    const node = this.nodes[index];
    if (!node) return [];
    const out = await run(IP, ['netns', 'pids', node.namespace]);
    return out.split('\n').filter((line) => line.trim() !== '').map(Number);
  }

  /** SIGKILLs every process in a node's namespace (a browser crash). Resolves once they are gone. */
  async killAll(index: number): Promise<number[]> {
    const pids = await this.pids(index);
    for (const pid of pids) killQuietly(pid);
    for (let waited = 0; waited < 5_000; waited += 50) {
      if ((await this.pids(index)).length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return pids;
  }

  /** Removes the namespaces, veths, bridge and wrapper scripts. Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    unregisterExitHook(this.exitHook);
    try {
      await removePrefix(this.prefix);
    } finally {
      rmSync(this.scratchDir, { recursive: true, force: true });
    }
  }

  /** The exit-hook variant: process 'exit' handlers cannot wait for promises. */
  private destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    removePrefixSync(this.prefix);
    rmSync(this.scratchDir, { recursive: true, force: true });
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone: that is what we wanted.
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but is not ours to signal; still alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The first 198.18.0.0/15 /24 that no interface of the root namespace uses. */
async function freeSubnet(): Promise<string> {
  const out = await run(IP, ['-4', '-o', 'addr', 'show']);
  const used = new Set([...out.matchAll(/inet (198\.1[89]\.\d+)\.\d+/g)].map((match) => match[1]));
  for (let block = 0; block < 512; block++) {
    const subnet = `198.${18 + (block >> 8)}.${block & 255}`;
    if (!used.has(subnet)) return subnet;
  }
  throw new NetnsError('no-free-subnet', 'every /24 of 198.18.0.0/15 is in use on this host');
}

/** Names of our objects, from `ip netns list` and `ip link`. */
async function ourObjects(): Promise<{ namespaces: string[]; links: string[] }> {
  const [netns, links] = await Promise.all([run(IP, ['netns', 'list']), run(IP, ['-o', 'link', 'show'])]);
  return parseObjects(netns, links);
}

function parseObjects(netnsList: string, linkList: string): { namespaces: string[]; links: string[] } {
  const namespaces = netnsList.split('\n').map((line) => line.split(' ')[0] ?? '').filter((name) => PREFIX_PATTERN.test(name));
  const links = [...linkList.matchAll(/^\d+: ([^:@\s]+)/gm)].map((match) => match[1] ?? '').filter((name) => PREFIX_PATTERN.test(name));
  return { namespaces, links };
}

const prefixOf = (name: string): string => `engr${PREFIX_PATTERN.exec(name)?.[1] ?? ''}`;

/** Removes what runs whose process is gone left behind (they were killed before cleaning up). */
export async function removeLeftovers(): Promise<string[]> {
  const { namespaces, links } = await ourObjects();
  const stale = new Set(
    [...namespaces, ...links].map(prefixOf).filter((prefix) => {
      const pid = Number(prefix.slice('engr'.length));
      return pid !== process.pid && !pidAlive(pid);
    }),
  );
  for (const prefix of stale) await removePrefix(prefix);
  // The wrapper scripts of runs that died: engr<pid>-XXXXXX in the temp dir.
  for (const entry of readdirSync(tmpdir())) {
    const pid = /^engr(\d+)-\w{6}$/.exec(entry)?.[1];
    if (pid !== undefined && Number(pid) !== process.pid && !pidAlive(Number(pid))) rmSync(join(tmpdir(), entry), { recursive: true, force: true });
  }
  return [...stale];
}

/** Deletes every namespace and link of a prefix, killing what still runs in its namespaces. */
export async function removePrefix(prefix: string): Promise<void> {
  const { namespaces } = await ourObjects();
  for (const namespace of namespaces.filter((name) => prefixOf(name) === prefix)) {
    const pids = await run(IP, ['netns', 'pids', namespace]).catch(() => '');
    for (const pid of pids.split('\n').filter((line) => line.trim() !== '')) killQuietly(Number(pid));
    // Deleting the namespace deletes its veth end, and with it (soon, asynchronously) the host end.
    await run(IP, ['netns', 'del', namespace]);
  }
  for (let attempt = 0; ; attempt++) {
    const { links } = await ourObjects();
    const ours = links.filter((name) => prefixOf(name) === prefix);
    if (ours.length === 0) return;
    for (const link of ours) {
      // A host veth end may vanish between the listing and the delete: only what remains counts.
      await run(IP, ['link', 'del', link]).catch((error: unknown) => {
        if (attempt >= 20) throw error;
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function removePrefixSync(prefix: string): void {
  const runSync = (args: string[]): string => {
    try {
      return execFileSync(IP, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      // At exit there is no one to report to; the next run's removeLeftovers() retries.
      return '';
    }
  };
  const { namespaces, links } = parseObjects(runSync(['netns', 'list']), runSync(['-o', 'link', 'show']));
  for (const namespace of namespaces.filter((name) => prefixOf(name) === prefix)) {
    for (const pid of runSync(['netns', 'pids', namespace]).split('\n').filter((line) => line.trim() !== '')) killQuietly(Number(pid));
    runSync(['netns', 'del', namespace]);
  }
  for (const link of links.filter((name) => prefixOf(name) === prefix)) runSync(['link', 'del', link]);
}

const exitHooks = new Set<() => void>();
let hooksInstalled = false;

/**
 * Runs the hooks on normal exit and on SIGINT/SIGTERM/SIGHUP (then exits as the signal would).
 * SIGKILL cannot be caught: that is what removeLeftovers() at the next start is for.
 */
function registerExitHook(hook: () => void): void {
  exitHooks.add(hook);
  if (hooksInstalled) return;
  hooksInstalled = true;
  const runHooks = () => {
    for (const each of [...exitHooks]) each();
    exitHooks.clear();
  };
  process.on('exit', runHooks);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      runHooks();
      process.kill(process.pid, signal);
    });
  }
}

function unregisterExitHook(hook: () => void): void {
  exitHooks.delete(hook);
}

/** For scripts: `ip netns list` filtered to this harness's namespaces (all runs). */
export function listHarnessNamespaces(): Promise<string[]> {
  return ourObjects().then(({ namespaces }) => namespaces);
}
