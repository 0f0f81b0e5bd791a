// The runner process: loads each case it is sent and answers with the outcome. It runs in
// its own process so that a case that aborts V8 ("invalid table size"), faults, spins or
// grows without bound costs only this process; the fuzzer kills and respawns it.
import { exercise, classifyError } from './exercise';
import type { Outcome, RunSpec } from './spec';

interface Job {
  id: number;
  dir: string;
  spec: RunSpec;
}

const send = (msg: unknown): void => {
  process.send!(msg);
};

let current: number | undefined;
let started = 0;

// An error thrown outside the awaited chain (a stray callback) still belongs to the case in flight.
const stray = (e: unknown): void => {
  if (current === undefined) return;
  const outcome: Outcome = { ...classifyError(e), ms: performance.now() - started };
  send({ id: current, outcome });
  current = undefined;
};
process.on('uncaughtException', stray);
// Ctrl-C reaches the whole process group: the supervisor decides when this process ends.
process.on('SIGINT', () => undefined);
process.on('unhandledRejection', stray);

process.on('message', (job: Job) => {
  current = job.id;
  started = performance.now();
  void exercise(job.dir, job.spec).then((outcome) => {
    if (current !== job.id) return;
    current = undefined;
    send({ id: job.id, outcome });
  });
});

send({ ready: true });
