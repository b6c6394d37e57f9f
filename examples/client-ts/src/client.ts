/**
 * An upstream system written in TypeScript: it starts a `VisaApplication` dossier and sends
 * it one event as an update, every payload sealed and opened by the codec server
 * (docs/contract.md, "Sealed payloads": Temporal's remote codec protocol, with a token).
 * It knows neither the project's keys nor its code: only the contract and its schemas
 * (docs/schema/).
 *
 *   node dist/client.js APPLICATION.json EVENT PAYLOAD.json
 *
 * Environment: TEMPORAL_ADDRESS (localhost:7233), TEMPORAL_NAMESPACE (default),
 * TEMPORAL_TASK_QUEUE (integration), TEMPORAL_CODEC_ENDPOINT (http://127.0.0.1:8234),
 * CODEC_TOKEN (the secret of the codec server's `CODEC_AUTH=token:…`; none under `make run`).
 *
 * Prints one JSON object on stdout: the dossier's stage after the start and what became of
 * the event (accepted, or the rejection's `rule`, `field` and `seq`). Exit codes as the
 * project's command line: 0 done (a `duplicate` rejection included: the event was already
 * applied), 1 could not do it, 2 usage error, 3 the input was rejected.
 */
import { readFileSync } from 'node:fs';
import { Client, Connection, WorkflowUpdateFailedError } from '@temporalio/client';
import {
  ApplicationFailure,
  Payload,
  PayloadCodec,
  WorkflowExecutionAlreadyStartedError,
} from '@temporalio/common';

const EXIT_ERROR = 1;
const EXIT_USAGE = 2;
const EXIT_REJECTED = 3;
/** The failure type of a refused update (docs/contract.md, "Events"). */
const INPUT_REJECTED = 'InputRejected';
/** The rule of an event identical to one already accepted: nothing to do, it is applied. */
const DUPLICATE = 'duplicate';

/** docs/schema/rejection.json: what a refused input's failure carries as its details. */
interface Rejection {
  event: string;
  received_at: string;
  reason: string;
  rule: string | null;
  field: string | null;
  seq: number | null;
}

/** A codec that asks the codec server to seal and open payloads (`/encode`, `/decode`). */
class RemoteCodec implements PayloadCodec {
  constructor(
    private readonly endpoint: string,
    private readonly namespace: string,
    private readonly token: string | undefined,
  ) {}

  encode(payloads: Payload[]): Promise<Payload[]> {
    return this.call('encode', payloads);
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return this.call('decode', payloads);
  }

  private async call(operation: string, payloads: Payload[]): Promise<Payload[]> {
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'X-Namespace': this.namespace,
    };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let answer: Response;
    try {
      answer = await fetch(`${this.endpoint}/${operation}`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ payloads: payloads.map(toJson) }),
      });
    } catch (error) {
      throw new Unreachable(
        `cannot reach the codec server at ${this.endpoint}: ${reason(error)}; ` +
          'set TEMPORAL_CODEC_ENDPOINT',
      );
    }
    if (!answer.ok) {
      throw new Unreachable(
        `the codec server answered ${answer.status} to /${operation}: ` +
          'set CODEC_TOKEN to a token it accepts',
      );
    }
    const body = (await answer.json()) as { payloads?: JsonPayload[] };
    return (body.payloads ?? []).map(fromJson);
  }
}

/** A payload in the protobuf JSON mapping the codec server speaks: bytes in base64. */
interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

function toJson(payload: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(payload.metadata ?? {})) {
    metadata[key] = Buffer.from(value as Uint8Array).toString('base64');
  }
  return { metadata, data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64') };
}

function fromJson(payload: JsonPayload): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [key, value] of Object.entries(payload.metadata ?? {})) {
    metadata[key] = new Uint8Array(Buffer.from(value, 'base64'));
  }
  return { metadata, data: new Uint8Array(Buffer.from(payload.data ?? '', 'base64')) };
}

class Unreachable extends Error {}

class Usage extends Error {}

function reason(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const text = cause instanceof Error ? cause.message : String(cause);
  return text.split('\n')[0].slice(0, 200);
}

function readJson(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf-8');
  } catch (error) {
    throw new Usage(`cannot read ${path}: ${reason(error)}`);
  }
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Usage(`${path} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}

function rejectionOf(error: unknown): Rejection | undefined {
  if (!(error instanceof WorkflowUpdateFailedError)) return undefined;
  const cause = error.cause;
  if (!(cause instanceof ApplicationFailure) || cause.type !== INPUT_REJECTED) return undefined;
  const details = cause.details?.[0] as Rejection | undefined;
  return details ?? { event: '', received_at: '', reason: cause.message, rule: null, field: null, seq: null };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(argv: string[]): Promise<number> {
  if (argv.length !== 3) {
    throw new Usage('usage: node dist/client.js APPLICATION.json EVENT PAYLOAD.json');
  }
  const [applicationFile, event, payloadFile] = argv;
  const application = readJson(applicationFile);
  const payload = readJson(payloadFile);
  const address = process.env.TEMPORAL_ADDRESS || 'localhost:7233';
  const namespace = process.env.TEMPORAL_NAMESPACE || 'default';
  const taskQueue = process.env.TEMPORAL_TASK_QUEUE || 'integration';
  const endpoint = (process.env.TEMPORAL_CODEC_ENDPOINT || 'http://127.0.0.1:8234').replace(/\/+$/, '');

  let connection: Connection;
  try {
    connection = await Connection.connect({ address, connectTimeout: '5s' });
  } catch (error) {
    throw new Unreachable(
      `cannot reach Temporal at ${address}: ${reason(error)}; set TEMPORAL_ADDRESS`,
    );
  }
  try {
    const client = new Client({
      connection,
      namespace,
      dataConverter: { payloadCodecs: [new RemoteCodec(endpoint, namespace, process.env.CODEC_TOKEN)] },
    });
    // The contract's workflow id; a rejected start may be corrected and started again.
    const workflowId = `visa-${String(application.application_id)}`;
    // Sent again after a crash, the start finds the dossier: it is never opened twice.
    let started = true;
    try {
      await client.workflow.start('VisaApplication', {
        taskQueue,
        workflowId,
        args: [application],
        workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
        workflowIdConflictPolicy: 'FAIL',
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      started = false;
    }
    const handle = client.workflow.getHandle(workflowId);
    // The dossier answers its `state` query once its first step is recorded.
    let state: Record<string, unknown> = { stage: 'opening' };
    for (let tries = 0; state.stage === 'opening' && tries < 150; tries++) {
      await sleep(200);
      try {
        state = await handle.query<Record<string, unknown>>('state');
      } catch {
        // no worker has taken the start yet
      }
    }
    const opened = { workflow_id: workflowId, started, stage: state.stage };
    if (state.stage === 'rejected' || state.stage === 'opening') {
      console.log(JSON.stringify({ ...opened, rejection: state.rejection ?? null }));
      return state.stage === 'rejected' ? EXIT_REJECTED : EXIT_ERROR;
    }
    try {
      const answer = await handle.executeUpdate<Record<string, unknown>, [Record<string, unknown>]>(
        event,
        { args: [payload] },
      );
      console.log(JSON.stringify({ ...opened, event, accepted: true, seq: answer.seq, now: answer.stage }));
      return 0;
    } catch (error) {
      const rejection = rejectionOf(error);
      if (rejection === undefined) throw error;
      console.log(JSON.stringify({ ...opened, event, accepted: false, rejection }));
      return rejection.rule === DUPLICATE ? 0 : EXIT_REJECTED;
    }
  } finally {
    await connection.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const usage = error instanceof Usage;
    const text = error instanceof Unreachable || usage ? error.message : reason(error);
    console.error(`error: ${text}`);
    process.exit(usage ? EXIT_USAGE : EXIT_ERROR);
  },
);
