/** Every workflow the worker registers. The bundle is built from this file. */
export { deviceUpgradeWorkflow } from './device-upgrade';
export { upgradeTaskWorkflow } from './upgrade-task';
