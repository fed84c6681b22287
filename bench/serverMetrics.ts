// What the Temporal server did for a phase, from its own Prometheus counters: the database
// calls (execution store and visibility store) and the RPCs it served. Unlike its CPU share,
// which a busy machine or the pace of the phase moves, these counts per email are the same
// from run to run: they say what a journey asks of Temporal beside a bare workflow.

/** Counters by `operation`, summed over the other labels. */
export type ServerCounters = Record<'persistence' | 'persistenceSeconds' | 'visibility' | 'rpcs', Map<string, number>>;

const FAMILIES: Record<string, keyof ServerCounters> = {
  persistence_requests: 'persistence',
  persistence_latency_sum: 'persistenceSeconds',
  visibility_persistence_requests: 'visibility',
  // RPCs the frontend served (clients and workers); history and matching count their internal calls apart.
  service_requests: 'rpcs',
};

/** Counters that are not the phase's own work: the server's shard and queue upkeep. */
const UPKEEP = /^(AssertShardOwnership|GetOrCreateShard|UpdateShard|ListClusterMetadata|GetClusterMetadata|GetCurrentClusterMetadata|GetNamespace|ListNamespaces|GetMetadata)$/;

export function parseServerMetrics(text: string): ServerCounters {
  const counters: ServerCounters = { persistence: new Map(), persistenceSeconds: new Map(), visibility: new Map(), rpcs: new Map() };
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!match) continue;
    const family = FAMILIES[match[1]];
    if (!family) continue;
    const labels = match[2];
    if (family === 'rpcs' && !labels.includes('service_name="frontend"')) continue;
    const operation = /operation="([^"]+)"/.exec(labels)?.[1];
    if (!operation || UPKEEP.test(operation)) continue;
    const value = Number(match[3]);
    if (Number.isFinite(value)) counters[family].set(operation, (counters[family].get(operation) ?? 0) + value);
  }
  return counters;
}

export async function readServerMetrics(url: string): Promise<ServerCounters> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`the Temporal server's metrics at ${url} answered ${response.status}`);
  return parseServerMetrics(await response.text());
}

/** A phase's share: `after` less `before`, operations that did not move left out. */
export function counterDelta(before: ServerCounters, after: ServerCounters): ServerCounters {
  const delta = (from: Map<string, number>, to: Map<string, number>) =>
    new Map([...to].map(([op, value]) => [op, value - (from.get(op) ?? 0)] as const).filter(([, value]) => value > 1e-9));
  return {
    persistence: delta(before.persistence, after.persistence),
    persistenceSeconds: delta(before.persistenceSeconds, after.persistenceSeconds),
    visibility: delta(before.visibility, after.visibility),
    rpcs: delta(before.rpcs, after.rpcs),
  };
}

export interface ServerWork {
  /** Per email: execution-store calls, the time they took (ms), visibility-store calls, frontend RPCs. */
  persistence: number;
  persistenceMs: number;
  visibility: number;
  rpcs: number;
  /** The operations behind those figures, per email, the largest first. */
  byOperation: { persistence: [string, number][]; visibility: [string, number][]; rpcs: [string, number][] };
}

export function serverWorkPerEmail(delta: ServerCounters, emails: number): ServerWork {
  const per = (map: Map<string, number>) => [...map].map(([op, value]) => [op, value / Math.max(1, emails)] as [string, number]).sort((x, y) => y[1] - x[1]);
  const total = (map: Map<string, number>) => [...map.values()].reduce((sum, value) => sum + value, 0) / Math.max(1, emails);
  return {
    persistence: total(delta.persistence),
    persistenceMs: total(delta.persistenceSeconds) * 1000,
    visibility: total(delta.visibility),
    rpcs: total(delta.rpcs),
    byOperation: { persistence: per(delta.persistence), visibility: per(delta.visibility), rpcs: per(delta.rpcs) },
  };
}
