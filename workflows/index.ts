/** Every workflow the worker registers. The bundle is built from this file. */
export {};
