import { producerMetrics } from '@phudge/producer';
import { workerMetrics } from '@phudge/worker';
import type { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { type ChartManifest, renderChart } from '../support/helm.js';

interface Dashboard {
  uid: string;
  title: string;
  panels: { type: string; title: string; targets?: { expr: string }[] }[];
  templating: { list: { name: string; query?: string | { query: string } }[] };
}

function dashboardConfigMaps(...set: string[]): ChartManifest[] {
  return renderChart(...set).filter(
    (doc) => doc.kind === 'ConfigMap' && doc.metadata.name.endsWith('grafana-dashboard'),
  );
}

/** The series names a registry exposes: a histogram as its `_bucket`, `_sum` and `_count`. */
async function exposedNames(registry: Registry): Promise<string[]> {
  return (await registry.getMetricsAsJSON()).flatMap(({ name, type }) =>
    String(type) === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name],
  );
}

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
]);
const PROMQL_OPERATORS = new Set(['and', 'or', 'unless']);

/**
 * The metric names a PromQL expression selects: its identifiers once strings, label matchers,
 * ranges and grouping lists are dropped, less functions (an identifier before `(`) and keywords.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  return [...bare.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)]
    .filter(
      ([, name, call]) => !call && !PROMQL_WORDS.has(name as string) && !PROMQL_OPERATORS.has(name as string),
    )
    .map(([, name]) => name as string);
}

describe('the Grafana dashboard in the chart', () => {
  it('renders no ConfigMap by default', () => {
    expect(dashboardConfigMaps()).toEqual([]);
  });

  it("renders a ConfigMap with the sidecar's label, holding the dashboard", () => {
    const [configMap, ...others] = dashboardConfigMaps('grafana.dashboard.enabled=true');
    expect(others).toEqual([]);
    expect(configMap?.metadata.namespace).toBe('judges');
    expect(configMap?.metadata.labels?.grafana_dashboard).toBe('1');
    const dashboard = JSON.parse(configMap?.data?.['phudge-fleet.json'] ?? '') as Dashboard;
    expect(dashboard.uid).toBe('phudge-fleet');
    expect(dashboard.panels.filter((panel) => panel.type !== 'row').length).toBeGreaterThan(8);
    const elsewhere = dashboardConfigMaps(
      'grafana.dashboard.enabled=true',
      'grafana.dashboard.namespace=monitoring',
    );
    expect(elsewhere[0]?.metadata.namespace).toBe('monitoring');
  });

  it('queries only metrics the producer and the workers export', async () => {
    const [configMap] = dashboardConfigMaps('grafana.dashboard.enabled=true');
    const dashboard = JSON.parse(configMap?.data?.['phudge-fleet.json'] ?? '') as Dashboard;
    const exported = new Set([
      ...(await exposedNames(producerMetrics(async () => 0).registry)),
      ...(await exposedNames(workerMetrics(() => undefined).registry)),
    ]);
    const queries = [
      ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr)),
      ...dashboard.templating.list.flatMap(({ query }) =>
        typeof query === 'object' && query.query.startsWith('label_values(')
          ? [query.query.replace(/^label_values\(([^,)]+).*$/, '$1')]
          : [],
      ),
    ];
    const queried = new Set(queries.flatMap(metricNames));
    // The parse found the metrics: every query selects one.
    for (const query of queries) expect(metricNames(query).length, query).toBeGreaterThan(0);
    expect([...queried].filter((name) => !exported.has(name))).toEqual([]);
    // The headline series are all there.
    for (const name of [
      'phudge_queue_pending_chunks',
      'phudge_items_graded_total',
      'phudge_items_ingested_total',
      'phudge_chunks_total',
      'phudge_batch_seconds_bucket',
      'phudge_ingestions_started_total',
    ]) {
      expect(queried, name).toContain(name);
    }
  });

  it('reads metric names out of PromQL', () => {
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (le) (rate(a_seconds_bucket{namespace=~"$ns", x="y(z)"}[$__rate_interval])))',
      ),
    ).toEqual(['a_seconds_bucket']);
    expect(metricNames('sum(rate(a_total[5m])) / on (pod) group_left count(b) or vector(0)')).toEqual([
      'a_total',
      'b',
    ]);
  });
});
