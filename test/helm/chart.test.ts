import { configEnvironmentVariables, SERVICE_ROUTES } from '@phudge/core';
import { describe, expect, it } from 'vitest';
import { type ChartManifest, helm, renderChart } from '../support/helm.js';

const CHART = 'helm/phudge';

function find(manifests: ChartManifest[], kind: string, nameEnd: string): ChartManifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name.endsWith(nameEnd));
  if (!found)
    throw new Error(
      `no ${kind} *${nameEnd} in ${manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')}`,
    );
  return found;
}

function container(deployment: ChartManifest) {
  return deployment.spec.template.spec.containers[0];
}

function envNames(deployment: ChartManifest): string[] {
  return container(deployment).env.map((e: { name: string }) => e.name);
}

describe('helm chart', () => {
  it('passes helm lint --strict', () => {
    expect(helm(['lint', '--strict', CHART])).toContain('1 chart(s) linted, 0 chart(s) failed');
  });

  it('renders with the defaults: GPU workers scaled by KEDA on the queue', () => {
    const manifests = renderChart();
    const worker = find(manifests, 'Deployment', '-worker');
    expect(container(worker).resources.limits['nvidia.com/gpu']).toBe(1);
    expect(container(worker).env).toContainEqual({ name: 'PHUDGE_DEVICE', value: 'cuda:0' });
    const scaled = find(manifests, 'ScaledObject', '-worker');
    expect(scaled.spec.minReplicaCount).toBe(0);
    expect(scaled.spec.triggers[0]).toMatchObject({
      type: 'metrics-api',
      metadata: { valueLocation: 'pending', url: 'http://fleet-phudge-producer.judges.svc:8080/v1/queue' },
    });
    expect(manifests.some((m) => m.kind === 'HorizontalPodAutoscaler')).toBe(false);
  });

  it('renders GPU with the KEDA Prometheus trigger', () => {
    const scaled = find(renderChart('autoscaling.keda.trigger=prometheus'), 'ScaledObject', '-worker');
    expect(scaled.spec.triggers[0].type).toBe('prometheus');
    expect(scaled.spec.triggers[0].metadata.query).toContain('phudge_queue_pending_chunks');
  });

  it('renders CPU workers with an HPA when KEDA is off', () => {
    const manifests = renderChart('worker.gpu.enabled=false', 'autoscaling.keda.enabled=false');
    const worker = find(manifests, 'Deployment', '-worker');
    expect(container(worker).resources.limits?.['nvidia.com/gpu']).toBeUndefined();
    expect(container(worker).env).toContainEqual({ name: 'PHUDGE_DEVICE', value: 'cpu' });
    expect(container(worker).image).not.toContain('gpu');
    const hpa = find(manifests, 'HorizontalPodAutoscaler', '-worker');
    expect(hpa.spec.minReplicas).toBe(1);
    expect(hpa.spec.metrics[0].external.metric.name).toBe('phudge_queue_pending_chunks');
    expect(manifests.some((m) => m.kind === 'ScaledObject')).toBe(false);
  });

  it('gives workers a grace period above the drain timeout and probes on the service routes', () => {
    const worker = find(renderChart('worker.terminationGracePeriodSeconds=300'), 'Deployment', '-worker');
    expect(worker.spec.template.spec.terminationGracePeriodSeconds).toBe(300);
    expect(container(worker).env).toContainEqual({ name: 'PHUDGE_DRAIN_TIMEOUT_MS', value: '290000' });
    expect(container(worker).readinessProbe.httpGet.path).toBe(SERVICE_ROUTES.ready);
    expect(container(worker).startupProbe.httpGet.path).toBe(SERVICE_ROUTES.ready);
    expect(container(worker).livenessProbe.httpGet.path).toBe(SERVICE_ROUTES.health);
  });

  it('takes secrets only from existing Secret references', () => {
    const producer = find(renderChart(), 'Deployment', '-producer');
    const secretEnv = container(producer).env.filter((e: { valueFrom?: unknown }) => e.valueFrom);
    expect(secretEnv.map((e: { name: string }) => e.name).sort()).toEqual(
      [
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
        'PHUDGE_API_METRICS_TOKEN',
        'PHUDGE_API_TOKENS',
        'PHUDGE_REDIS_URL',
      ].sort(),
    );
    expect(JSON.stringify(renderChart())).not.toMatch(/password|secretAccessKey"?:\s*"[^"]/i);
  });

  it('gives the producer its webhook URLs and signing key from a Secret, when one is named', () => {
    const producer = find(
      renderChart('secrets.webhooks.existingSecret=phudge-hooks'),
      'Deployment',
      '-producer',
    );
    const env = container(producer).env as { name: string; valueFrom?: unknown }[];
    expect(env.filter((e) => e.name.startsWith('PHUDGE_WEBHOOK_'))).toEqual([
      {
        name: 'PHUDGE_WEBHOOK_URLS',
        valueFrom: { secretKeyRef: { name: 'phudge-hooks', key: 'urls', optional: true } },
      },
      {
        name: 'PHUDGE_WEBHOOK_SECRET',
        valueFrom: { secretKeyRef: { name: 'phudge-hooks', key: 'secret', optional: true } },
      },
    ]);
  });

  it('gives KEDA the metrics token, never the list of API tokens', () => {
    const manifests = renderChart();
    const auth = find(manifests, 'TriggerAuthentication', '-queue-auth');
    expect(auth.spec.secretTargetRef).toEqual([
      { parameter: 'token', name: 'phudge-api', key: 'metrics-token' },
    ]);
    expect(container(find(manifests, 'Deployment', '-producer')).env).toContainEqual({
      name: 'PHUDGE_API_METRICS_TOKEN',
      valueFrom: { secretKeyRef: { name: 'phudge-api', key: 'metrics-token', optional: true } },
    });
    expect(() => renderChart('secrets.api.metricsTokenKey=')).toThrow(/metricsTokenKey/);
  });

  it('runs the pods as a service account that IRSA can annotate, without a Kubernetes API token', () => {
    const role = 'arn:aws:iam::123456789012:role/phudge';
    const manifests = renderChart(
      'secrets.s3.existingSecret=',
      `serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=${role}`,
    );
    const account = find(manifests, 'ServiceAccount', 'fleet-phudge');
    expect(account.metadata).toMatchObject({ annotations: { 'eks.amazonaws.com/role-arn': role } });
    for (const name of ['-producer', '-worker']) {
      const pod = find(manifests, 'Deployment', name).spec.template.spec;
      expect(pod.serviceAccountName).toBe(account.metadata.name);
      expect(pod.automountServiceAccountToken).toBe(false);
      // IRSA: no key variables at all, so the SDK uses the web identity the role grants.
      expect(envNames(find(manifests, 'Deployment', name)).filter((env) => env.startsWith('AWS_'))).toEqual(
        [],
      );
    }
  });

  it('routes only /v1 and /openapi.json through the Ingress', () => {
    const ingress = find(renderChart('producer.ingress.enabled=true'), 'Ingress', '-producer');
    const paths = ingress.spec.rules[0].http.paths.map((p: { path: string; pathType: string }) => [
      p.path,
      p.pathType,
    ]);
    expect(paths).toEqual([
      ['/v1', 'Prefix'],
      ['/openapi.json', 'Exact'],
    ]);
  });

  describe('NetworkPolicy', () => {
    it('renders none unless enabled', () => {
      expect(renderChart().some((m) => m.kind === 'NetworkPolicy')).toBe(false);
    });

    it('lets API clients, scrapers and KEDA reach the producer, and only scrapers the workers', () => {
      const manifests = renderChart('networkPolicy.enabled=true');
      const producer = find(manifests, 'NetworkPolicy', '-producer');
      expect(producer.spec.podSelector.matchLabels['app.kubernetes.io/component']).toBe('producer');
      expect(producer.spec.ingress).toEqual([
        {
          ports: [{ port: 'http' }],
          from: [
            { podSelector: {} },
            { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
            { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'keda' } } },
          ],
        },
      ]);
      const worker = find(manifests, 'NetworkPolicy', '-worker');
      expect(worker.spec.podSelector.matchLabels['app.kubernetes.io/component']).toBe('worker');
      expect(worker.spec.ingress).toEqual([
        {
          ports: [{ port: 'http' }],
          from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
        },
      ]);
    });

    it('admits nobody, rather than everybody, when no peer is listed', () => {
      const manifests = renderChart(
        'networkPolicy.enabled=true',
        'autoscaling.keda.trigger=prometheus',
        'networkPolicy.apiClients=null',
        'networkPolicy.scrapers=null',
      );
      expect(find(manifests, 'NetworkPolicy', '-producer').spec.ingress).toEqual([]);
      expect(find(manifests, 'NetworkPolicy', '-worker').spec.ingress).toEqual([]);
    });
  });

  it('tells every service when Redis is a Redis Cluster', () => {
    const flag = (manifests: ChartManifest[], name: string) =>
      container(find(manifests, 'Deployment', name)).env.find(
        (e: { name: string }) => e.name === 'PHUDGE_REDIS_CLUSTER',
      )?.value;
    const standalone = renderChart();
    const cluster = renderChart('config.redisCluster=true');
    for (const name of ['-producer', '-worker']) {
      expect(flag(standalone, name), name).toBe('false');
      expect(flag(cluster, name), name).toBe('true');
    }
    expect(() => renderChart('config.redisCluster=maybe')).toThrow(/redisCluster/);
  });

  it('rejects values its schema does not allow', () => {
    expect(() => renderChart('autoscaling.keda.trigger=redis-list')).toThrow(/trigger/);
  });

  describe('drift between the chart and the services', () => {
    const all = [
      ...renderChart(),
      ...renderChart(
        'worker.gpu.enabled=false',
        'autoscaling.keda.enabled=false',
        'serviceMonitor.enabled=true',
      ),
    ];

    it('sets only PHUDGE_* variables that are keys of the config schema', () => {
      const known = new Set(configEnvironmentVariables());
      const set = all
        .filter((m) => m.kind === 'Deployment')
        .flatMap(envNames)
        .filter((name) => name.startsWith('PHUDGE_'));
      expect(set.length).toBeGreaterThan(10);
      expect([...new Set(set)].filter((name) => !known.has(name))).toEqual([]);
    });

    it('probes and scrapes only routes the services serve', () => {
      const served = new Set<string>(Object.values(SERVICE_ROUTES));
      const paths = all.flatMap((m) => {
        if (m.kind === 'Deployment') {
          const c = container(m);
          return [c.readinessProbe, c.livenessProbe, c.startupProbe]
            .filter(Boolean)
            .map((p) => p.httpGet.path);
        }
        if (m.kind === 'ServiceMonitor') return m.spec.endpoints.map((e: { path: string }) => e.path);
        return [];
      });
      expect(paths.length).toBeGreaterThan(4);
      expect(paths.filter((path) => !served.has(path))).toEqual([]);
    });

    it('points KEDA at the queue-depth route the producer serves', () => {
      const trigger = find(renderChart(), 'ScaledObject', '-worker').spec.triggers[0];
      expect(new URL(trigger.metadata.url).pathname).toBe('/v1/queue');
    });
  });
});
