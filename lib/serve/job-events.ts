// The events of one job, for GET /jobs/:id/events (server-sent events): kept in memory
// so a client that connects late gets the replay, then the live ones. Progress events
// beyond a cap drop their oldest (a long sweep sends thousands); state changes stay.
export type JobEventType = 'state' | 'progress' | 'warning';

export interface JobEvent {
  /** 1-based, in the order they happened (the SSE `id`). */
  seq: number;
  type: JobEventType;
  data: Record<string, unknown>;
}

const MAX_PROGRESS_EVENTS = 1000;

export class JobEvents {
  private readonly events: JobEvent[] = [];
  private readonly listeners = new Set<(e: JobEvent) => void>();
  private seq = 0;
  private progressKept = 0;

  push(type: JobEventType, data: Record<string, unknown>): void {
    const event = { seq: ++this.seq, type, data };
    this.events.push(event);
    if (type === 'progress' && ++this.progressKept > MAX_PROGRESS_EVENTS) {
      this.events.splice(this.events.findIndex((e) => e.type === 'progress'), 1);
      this.progressKept--;
    }
    for (const listener of this.listeners) listener(event);
  }

  /** The events so far, then each new one until unsubscribed. */
  subscribe(listener: (e: JobEvent) => void): () => void {
    for (const e of [...this.events]) listener(e);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
