import type { Session } from '@ikc/kernel';

/** Kernel id -> ids of local sessions it may post to although they publish nothing (replies). */
export class Grants {
  private readonly byKernel = new Map<string, Set<string>>();

  /** Lets a kernel post back to a local session it was shown (as a sender or an argument). */
  grant(kernelId: string, session: Session): void {
    if (session.isProxy) return;
    let set = this.byKernel.get(kernelId);
    if (!set) this.byKernel.set(kernelId, (set = new Set()));
    set.add(session.id);
  }

  /** True if `kernelId` was shown the local session `sessionId`. */
  allows(kernelId: string, sessionId: string): boolean {
    return this.byKernel.get(kernelId)?.has(sessionId) === true;
  }

  forgetSession(sessionId: string): void {
    for (const set of this.byKernel.values()) set.delete(sessionId);
  }

  forgetKernel(kernelId: string): void {
    this.byKernel.delete(kernelId);
  }
}
