/** The dashboard check reads metric names out of PromQL, and only them. */
import { dashboardMetricNames, metricNamesInExpr, servedMetricNames } from './promql';

describe('metric names in PromQL', () => {
  it('keeps series names and drops functions, label lists, matchers, ranges and keywords', () => {
    expect(
      metricNamesInExpr(
        'histogram_quantile(0.99, sum by (le, route) (rate(ota_api_http_request_duration_seconds_bucket{route!="/x"}[$__rate_interval])))',
      ),
    ).toEqual(['ota_api_http_request_duration_seconds_bucket']);
    expect(metricNamesInExpr('sum(a_total) / ignoring(kind) group_left b_total or on() vector(0)')).toEqual([
      'a_total',
      'b_total',
    ]);
  });

  it('walks rows and their nested panels', () => {
    const names = dashboardMetricNames({
      panels: [{ targets: [{ expr: 'x_total' }] }, { panels: [{ targets: [{ expr: 'rate(y_seconds_count[5m])' }] }] }],
    });
    expect([...names].sort()).toEqual(['x_total', 'y_seconds_count']);
  });

  it('reads served names from samples and from HELP/TYPE lines of series without samples', () => {
    const text = '# HELP a_total A.\n# TYPE a_total counter\n# HELP b Gauge.\n# TYPE b gauge\nb{x="1"} 2\nc 1\n';
    expect([...servedMetricNames(text)].sort()).toEqual(['a_total', 'b', 'c']);
  });
});
