import { EventEmitter } from 'node:events';

/**
 * The explicit lifecycle of every service: `starting` (connecting) -> `warming` (loading the model)
 * -> `running` (ready for work) -> `draining` (finishing work in flight) -> `stopped`; or `failed`.
 */
export type ServiceState = 'starting' | 'warming' | 'running' | 'draining' | 'stopped' | 'failed';

const NEXT: Record<ServiceState, readonly ServiceState[]> = {
  starting: ['warming', 'running', 'draining', 'failed'],
  warming: ['running', 'draining', 'failed'],
  running: ['draining', 'failed'],
  draining: ['stopped', 'failed'],
  stopped: [],
  failed: ['stopped'],
};

export class Lifecycle extends EventEmitter<{ change: [state: ServiceState, previous: ServiceState] }> {
  private current: ServiceState = 'starting';

  get state(): ServiceState {
    return this.current;
  }

  /** Alive: the process can still do or finish work. */
  get healthy(): boolean {
    return this.current !== 'failed' && this.current !== 'stopped';
  }

  /** Ready: send it work. */
  get ready(): boolean {
    return this.current === 'running';
  }

  /**
   * Enters `draining` for a stop. @returns false when the service is already stopped (nothing to do).
   */
  beginStop(): boolean {
    if (this.current === 'stopped') return false;
    if (this.current !== 'failed' && this.current !== 'draining') this.to('draining');
    return true;
  }

  /** @throws Error on a transition the lifecycle does not allow (a bug, not a runtime condition). */
  to(state: ServiceState): void {
    if (state === this.current) return;
    if (!NEXT[this.current].includes(state))
      throw new Error(`lifecycle cannot go from ${this.current} to ${state}`);
    const previous = this.current;
    this.current = state;
    this.emit('change', state, previous);
  }
}
