/**
 * What must hold once a kill-matrix rollout is over, checked all at once and
 * returned as a list of problems (empty when everything holds), so one failed
 * run names every device and process that is wrong, not just the first.
 */
import { isDeepStrictEqual } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { eventually } from '../../helpers/eventually';
import type { LaunchedStack } from './launched-stack';
import { FROM, keys, TO, type RecordItem, type Rollout } from './rollout';

export interface Outcome {
  taskStatus: string;
  success: string[];
  failure: string[];
  /** Records in any other status, with it. */
  nonTerminal: string[];
  /** Commands received in all, and how many of them repeated an earlier one (same id, same content). */
  commands: number;
  redeliveries: number;
  problems: string[];
}

const sameList = (what: string, got: string[], want: string[], problems: string[]) => {
  const missing = want.filter((k) => !got.includes(k));
  const extra = got.filter((k) => !want.includes(k));
  if (missing.length || extra.length) problems.push(`${what}: missing ${json(missing)}, unexpected ${json(extra)}`);
};
const json = (v: unknown) => JSON.stringify(v);

export async function judgeRollout(stack: LaunchedStack, rollout: Rollout, expectedProcesses: string[]) {
  const problems: string[] = [];
  const { groups } = rollout;
  const wantSuccess = keys([...groups.ok, ...groups.away]);
  const wantFailure = keys([...groups.failing, ...groups.declining]);

  const task = await rollout.counts();
  if (task.status !== 'completed') problems.push(`task is ${task.status}, not completed: ${json(task.counts)}`);
  const records = await rollout.records();
  const byStatus = (status: string) =>
    records
      .filter((r) => r.status === status)
      .map((r) => r.deviceKey)
      .sort();
  const nonTerminal = records.filter((r) => r.status !== 'success' && r.status !== 'failure');
  if (nonTerminal.length) problems.push(`records not final: ${json(nonTerminal.map(describeRecord))}`);
  const success = byStatus('success');
  const failure = byStatus('failure');
  sameList('success records', success, wantSuccess, problems);
  sameList('failure records', failure, wantFailure, problems);
  const planned = new Map<string, string>([
    ...wantSuccess.map((k): [string, string] => [k, 'success']),
    ...wantFailure.map((k): [string, string] => [k, 'failure']),
  ]);
  const wrong = records.filter((r) => !nonTerminal.includes(r) && planned.get(r.deviceKey) !== r.status);
  if (wrong.length)
    problems.push(`final records with another outcome than planned: ${json(wrong.map(describeRecord))}`);
  checkCodes(records, keys(groups.failing), '-2', problems);
  checkCodes(records, keys(groups.declining), '-5', problems);

  // The truth is on the devices: what each runs now, and what the registry learned from them.
  const onTarget = rollout.fleet.records.filter((r) => r.version === TO).map((r) => r.deviceKey);
  sameList(`devices running ${TO}`, onTarget.sort(), wantSuccess, problems);
  sameList(`registry devices on ${TO}`, await rollout.devicesOn(TO), wantSuccess, problems);
  sameList(`registry devices on ${FROM}`, await rollout.devicesOn(FROM), wantFailure, problems);

  const { commands, redeliveries } = checkCommands(rollout, problems);
  await checkNoRunningWorkflows(stack, rollout.taskId, problems);
  await checkHealthy(stack, expectedProcesses, problems);
  return {
    taskStatus: task.status,
    success,
    failure,
    nonTerminal: nonTerminal.map((r) => `${r.deviceKey}:${r.status}`),
    commands,
    redeliveries,
    problems,
  } satisfies Outcome;
}

/** A record with what it says about itself, so a failed run tells why without the database. */
const describeRecord = (r: RecordItem): string =>
  [r.deviceKey, r.status, r.skipReason, r.waitReason, r.failure && `${r.failure.code} ${r.failure.reason ?? ''}`]
    .filter(Boolean)
    .join(': ');

function checkCodes(records: RecordItem[], deviceKeys: string[], code: string, problems: string[]): void {
  const wrong = records.filter((r) => deviceKeys.includes(r.deviceKey) && r.failure?.code !== code);
  if (wrong.length) problems.push(`want failure code ${code}: ${json(wrong.map((r) => [r.deviceKey, r.failure]))}`);
}

/**
 * No retries are configured, so each device has one attempt: every command it
 * received carries that attempt's id, and a redelivery is the same command.
 */
function checkCommands(rollout: Rollout, problems: string[]): { commands: number; redeliveries: number } {
  let commands = 0;
  let redeliveries = 0;
  for (const spec of rollout.all) {
    const received = rollout.fleet.device(spec.deviceKey).record.commands;
    commands += received.length;
    redeliveries += Math.max(0, received.length - 1);
    const ids = [...new Set(received.map((c) => c.id))];
    if (ids.length !== 1) {
      problems.push(`${spec.deviceKey} received ${ids.length} command ids for one attempt: ${json(ids)}`);
      continue;
    }
    const first = (received[0].raw as { params?: unknown }).params;
    const differing = received.filter((c) => !isDeepStrictEqual((c.raw as { params?: unknown }).params, first));
    if (differing.length) problems.push(`${spec.deviceKey} received different commands for ${ids[0]}`);
  }
  return { commands, redeliveries };
}

async function checkNoRunningWorkflows(stack: LaunchedStack, taskId: string, problems: string[]): Promise<void> {
  const connection = await Connection.connect({ address: stack.temporalAddress });
  try {
    const client = new Client({ connection });
    const query = `OtaTaskId="${taskId}" AND ExecutionStatus="Running"`;
    // Visibility trails the workflows by a moment.
    const running = await eventually(
      'no running workflow of the task',
      async () => (await client.workflow.count(query)).count,
      (n) => n === 0,
      30_000,
      500,
    ).catch(async () => (await client.workflow.count(query)).count);
    if (running !== 0) problems.push(`${running} workflows of task ${taskId} still running`);
  } finally {
    await connection.close();
  }
}

async function checkHealthy(stack: LaunchedStack, expected: string[], problems: string[]): Promise<void> {
  const health = await stack.health();
  if (health.status !== 200) problems.push(`/healthz ${health.status}: ${json(health.body)}`);
  const each = await stack.processHealth();
  if (Object.values(each).some((s) => s !== 200)) problems.push(`a service's own /healthz: ${json(each)}`);
  const running = stack.running();
  const missing = expected.filter((name) => !running.includes(name));
  if (missing.length) problems.push(`processes not running: ${json(missing)}`);
}
