import type { V2HorizontalPodAutoscalerSpec } from '@kubernetes/client-node';
import { DEFAULT_BEHAVIOR, InvalidScalingInputError } from './config';
import { toHpaManifest, toHpaSpec, toHpaSpecV2beta2, toQuantity } from './hpa-spec';

const POOL = { name: 'python-data-pool', namespace: 'executor-system', minReplicas: 2, maxReplicas: 20 };

describe('toHpaSpec', () => {
  it("metrics: ['queueDepth'] → only the External metric (clusters without metrics-server)", () => {
    const spec = toHpaSpec({ ...POOL, metrics: ['queueDepth'] });
    expect(spec.metrics).toEqual([
      {
        type: 'External',
        external: {
          metric: {
            name: 'executor_pool_queue_depth',
            selector: { matchLabels: { pool: 'python-data-pool' } },
          },
          target: { type: 'AverageValue', averageValue: '10' },
        },
      },
    ]);
    expect(toHpaSpec({ ...POOL, metrics: ['cpu'] }).metrics.map((m) => m.type)).toEqual(['Resource']);
    expect(() => toHpaSpec({ ...POOL, metrics: [] })).toThrow(InvalidScalingInputError);
  });

  it('maps the seed onto an autoscaling/v2 spec', () => {
    expect(toHpaSpec(POOL)).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'python-data-pool' },
      minReplicas: 2,
      maxReplicas: 20,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
        },
        {
          type: 'External',
          external: {
            metric: {
              name: 'executor_pool_queue_depth',
              selector: { matchLabels: { pool: 'python-data-pool' } },
            },
            target: { type: 'AverageValue', averageValue: '10' },
          },
        },
      ],
      behavior: {
        scaleUp: {
          stabilizationWindowSeconds: 60,
          selectPolicy: 'Max',
          policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
        },
        scaleDown: {
          stabilizationWindowSeconds: 300,
          selectPolicy: 'Max',
          policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }],
        },
      },
    });
  });

  it('is assignable to @kubernetes/client-node V2HorizontalPodAutoscalerSpec', () => {
    const spec: V2HorizontalPodAutoscalerSpec = toHpaSpec(POOL);
    expect(spec.maxReplicas).toBe(20);
  });

  it('takes the pool overrides', () => {
    const spec = toHpaSpec({
      ...POOL,
      targetCPUUtilizationPercentage: 60,
      queueDepthScaleUpPerPod: 2.5,
      metricName: 'jobs_waiting',
      metricSelector: { pool: 'p', region: 'eu' },
      behavior: { scaleUp: { stabilizationWindowSeconds: 0 } },
    });
    expect(spec.metrics[0]).toMatchObject({ resource: { target: { averageUtilization: 60 } } });
    expect(spec.metrics[1]).toEqual({
      type: 'External',
      external: {
        metric: { name: 'jobs_waiting', selector: { matchLabels: { pool: 'p', region: 'eu' } } },
        target: { type: 'AverageValue', averageValue: '2500m' },
      },
    });
    expect(spec.behavior.scaleUp).toEqual({ ...DEFAULT_BEHAVIOR.scaleUp, stabilizationWindowSeconds: 0 });
  });

  it('v2beta2 gives the identical spec; manifests differ only in apiVersion', () => {
    expect(toHpaSpecV2beta2(POOL)).toEqual(toHpaSpec(POOL));
    const v2 = toHpaManifest(POOL);
    const beta = toHpaManifest(POOL, 'autoscaling/v2beta2');
    expect(v2).toMatchObject({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'python-data-pool', namespace: 'executor-system' },
    });
    expect({ ...beta, apiVersion: 'autoscaling/v2' }).toEqual(v2);
  });

  it('does not share objects with DEFAULT_BEHAVIOR (callers may mutate the result)', () => {
    const spec = toHpaSpec(POOL);
    spec.behavior.scaleUp.policies[0].value = 1;
    expect(DEFAULT_BEHAVIOR.scaleUp.policies[0].value).toBe(100);
  });

  it.each([
    [{ ...POOL, name: 'Bad_Name' }, /name/],
    [{ ...POOL, minReplicas: 0 }, /minReplicas/],
    [{ ...POOL, targetCPUUtilizationPercentage: 70.5 }, /targetCPUUtilizationPercentage/],
    [{ ...POOL, queueDepthScaleUpPerPod: 0 }, /queueDepthScaleUpPerPod/],
    [{ ...POOL, unknown: 1 }, /unknown|additional/i],
  ])('rejects %j', (pool, message) => {
    expect(() => toHpaSpec(pool)).toThrow(InvalidScalingInputError);
    expect(() => toHpaSpec(pool)).toThrow(message);
  });

  it('rejects an unknown apiVersion', () => {
    expect(() => toHpaManifest(POOL, 'autoscaling/v1' as never)).toThrow(
      /unsupported HPA apiVersion "autoscaling\/v1"/,
    );
  });

  it('rejects max < min', () => {
    expect(() => toHpaSpec({ ...POOL, minReplicas: 5, maxReplicas: 3 })).toThrow(/maxReplicas/);
  });

  it('toQuantity writes integers plainly and fractions in milli-units', () => {
    expect([toQuantity(10), toQuantity(0.5), toQuantity(2.25)]).toEqual(['10', '500m', '2250m']);
    expect(() => toQuantity(-1)).toThrow(RangeError);
  });
});
