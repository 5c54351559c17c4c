/**
 * Live jobs and their start/stop scheduler (seed 001), as other areas (the automation, later the directory) use them.
 * Field names are the cloud live API's (snake_case); `time_utc` is Unix seconds as the seed has it, every time that
 * is onair's own is ISO 8601. Refusals are the core's domain errors: NotFound, InvalidInput (naming the field),
 * Conflict (a cancelled job, a task no longer pending).
 */

import type { InstanceRef } from '../gate/contract.ts';

/** `waiting`: open, no encoder yet; `processing`: live; `disconnected`: the encoder dropped and may come back. */
export const JOB_STATES = ['standby', 'waiting', 'processing', 'disconnected', 'cancelled', 'failed'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** The steps of an activation, in the real API's words; `cancelled` once the job is cancelled. */
export const SEP_STATES = [
  'ready', 'pending_activation', 'activation_in_progress', 'waiting', 'pending_deactivation', 'deactivation_in_progress', 'cancelled',
] as const;
export type SepState = (typeof SEP_STATES)[number];

/** One change of a job, as its history keeps it. */
export interface JobChange {
  /** ISO 8601. */
  at: string;
  state: JobState;
  sep_state: SepState;
  /** Why: `activated`, `deactivated`, `encoder connected`, `max_waiting_time passed`, an error... */
  reason: string;
  /** Who asked: `api` (its client's address), `scheduler` (a workflow's id), `automation`, `onair`. */
  by: string;
}

export interface JobIngest {
  /** srt:// URL without the key: encoders take the key as their passphrase option. */
  url: string;
  host: string;
  port: number;
  /** The SRT passphrase; only callers with the API key see it, and it is never logged or put in an event. */
  stream_key: string;
}

export interface LiveJob {
  /** 32 lowercase hex. */
  id: string;
  name: string;
  state: JobState;
  sep_state: SepState;
  static: true;
  region: string;
  format: 'ogg' | 'mpegts';
  record: boolean;
  /** The gate channel that carries it (beyond the real API). */
  channel: string;
  /** The node its ingest lives on (beyond the real API). */
  node: string;
  ingest: JobIngest;
  /** Where listeners hear it: the channel's /listen. */
  playback_url: string;
  /** Seconds a dropped encoder may take to come back (1-7200). */
  reconnect_time: number;
  /** Seconds after an activation without an encoder before the job deactivates itself. */
  max_waiting_time: number;
  /** Unix ms, as the real API has them. */
  created_at: number;
  updated_at: number;
  history: JobChange[];
}

/** A job as events and public views carry it: without its stream key. */
export type LiveJobView = Omit<LiveJob, 'ingest'> & { ingest: Omit<JobIngest, 'stream_key'> };

export interface ActivationOptions {
  /** The programme instance the activation belongs to: what is recorded goes to its recordings. */
  instance?: InstanceRef;
  /** Who asks, kept in the history. */
  by?: string;
}

/** The jobs as other areas use them. */
export interface LiveJobs {
  get(id: string): Promise<LiveJob>;
  /**
   * Opens the job's ingest on its node (here, or handed to that node through a task pinned to it, waiting for it);
   * answers the job once open. Conflict when the job is cancelled; a job already active answers as it is.
   */
  activate(id: string, options?: ActivationOptions): Promise<LiveJob>;
  /** Ends the stream within a second and refuses new connections; a job not active answers as it is. */
  deactivate(id: string, options?: { by?: string }): Promise<LiveJob>;
}

export const TASK_STATES = ['pending', 'cancelled', 'failed', 'finished'] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** An activation or deactivation of a workflow. */
export interface WorkflowTask {
  state: TaskState;
  /** Unix seconds. */
  time_utc: number;
  /** Seconds before `time_utc` to send notify-activate / notify-deactivate. */
  notification?: number;
  /** When it fired (ISO 8601, beyond the seed): an activation ONAIR_LIVE_OPEN_LEAD before time_utc, so that the ingest is open at time_utc. */
  fired_at?: string;
  /** Why it failed. */
  error?: string;
}

export interface Workflow {
  account_id: string;
  /** 32 lowercase hex. */
  workflow_id: string;
  type: 'jobstartstop';
  job_id: string;
  activation: WorkflowTask;
  deactivation: WorkflowTask;
  description?: string;
  notification_url?: string;
  /** The activation's time_utc. */
  workflow_start_time_utc: number;
  /** The programme instance whose live window it is (made by the automation). */
  instance?: InstanceRef;
}

/** A live window as the automation asks for it: epoch ms. */
export interface WindowRequest {
  job: string;
  activation: number;
  deactivation: number;
  description?: string;
  instance?: InstanceRef;
}

/** The scheduler as other areas (the automation) use it. Times are epoch ms; internal callers may give past times (at once). */
export interface LiveScheduler {
  schedule(window: WindowRequest): Promise<Workflow>;
  /** Moves the tasks still pending; a time not after now fires at once. Conflict when a task to move has fired. */
  move(workflow: string, times: { activation?: number; deactivation?: number }): Promise<Workflow>;
  /** As DELETE: before the activation both tasks are cancelled, after it the deactivation only. */
  cancel(workflow: string): Promise<Workflow>;
  get(workflow: string): Promise<Workflow | undefined>;
}

declare module '../core/events/bus.ts' {
  interface EventMap {
    /** Every change of a job's state, without its stream key. */
    'live-job-changed': LiveJobView;
    /** A workflow was made, moved, cancelled, or one of its tasks fired or failed. */
    'live-workflow-changed': Workflow;
  }
}
