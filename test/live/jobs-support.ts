/** The SRT ports of the live jobs' tests: their own range, so that they never take another suite's. */
export const JOBS_ENV = { ONAIR_SRT_PORT_START: '20000', ONAIR_SRT_PORT_END: '20999' };
