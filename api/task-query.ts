/** Query parameters of the task and record lists, declared once for the routes and the OpenAPI document. */
import { RECORD_STATUSES } from '../domain/types';
import { CURSOR_SEGMENT } from '../db/paging';
import { TASK_CURSOR_SEGMENTS } from '../db/task-reads';
import { pagingParams, type QueryParam } from './query';

export const TASK_LIST_PARAMS: QueryParam[] = [
  {
    name: 'firmwareId',
    description: 'Only tasks of this firmware.',
    schema: { type: 'string', minLength: 1, maxLength: 64 },
  },
  {
    name: 'status',
    description: 'Only tasks in this status.',
    schema: { enum: ['waiting', 'running', 'paused', 'completed', 'cancelled'] },
  },
  ...pagingParams(TASK_CURSOR_SEGMENTS),
];

export const RECORD_LIST_PARAMS: QueryParam[] = [
  {
    name: 'status',
    description: 'Only records in this status (a detail tab).',
    schema: { enum: [...RECORD_STATUSES] },
  },
  {
    name: 'deviceKey',
    description: 'Search: device keys starting with this text.',
    schema: { type: 'string', minLength: 1, maxLength: 64 },
  },
  ...pagingParams([CURSOR_SEGMENT]),
];
