/**
 * OpenTelemetry tracing of workflows and activities, on only when an OTLP
 * endpoint is configured (README "Tracing"). Workflow spans are made inside
 * the workflow sandbox by the interceptors compiled into the tracing bundle
 * (worker/bundle.ts) and leave it through the `exporter` sink; activity spans
 * are made here, as children of the workflow span that scheduled them (the
 * context travels in the activity's headers). Both reach the OTLP/HTTP
 * exporter in batches, so a slow collector never holds up a workflow task.
 */
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  type OpenTelemetrySinks,
} from '@temporalio/interceptors-opentelemetry';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';

export interface WorkerTracing {
  activityInterceptors: ActivityInterceptorsFactory;
  sinks: InjectedSinks<OpenTelemetrySinks>;
  /** Exports what is still buffered; call after the worker stopped. */
  shutdown(): Promise<void>;
}

export function workerTracing(tracesUrl: string, serviceName = 'ota-worker'): WorkerTracing {
  const resource = new Resource({ 'service.name': serviceName });
  const processor = new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl }), { scheduledDelayMillis: 1000 });
  const provider = new BasicTracerProvider({ resource });
  provider.addSpanProcessor(processor);
  // Global, with a context manager: the activity interceptor reads the workflow's span context from the
  // activity's headers through the global propagator (W3C trace context unless OTEL_PROPAGATORS says
  // otherwise) and makes it the active context, which needs a manager to hold it.
  provider.register({ contextManager: new AsyncLocalStorageContextManager() });
  const tracer = provider.getTracer('ota-worker');
  return {
    activityInterceptors: (ctx) => ({
      inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer }),
      outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
    }),
    sinks: { exporter: makeWorkflowExporter(processor, resource) },
    shutdown: () => provider.shutdown(),
  };
}
