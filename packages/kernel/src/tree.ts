import { RUNNING, type Session } from './session.js';

/** Sessions without a parent; proxies only when asked (signals are for local sessions). */
export function topLevel(sessions: Iterable<Session>, root: Session, withProxies = false): Session[] {
  const out: Session[] = [];
  for (const s of sessions) {
    if (s === root || s.parentSession !== null || s.state !== RUNNING) continue;
    if (s.remote === null || withProxies) out.push(s);
  }
  return out;
}

/** Sessions under `tops`, children before their parents. */
export function postOrder(tops: Session[]): Session[] {
  const out: Session[] = [];
  const visit = (s: Session) => {
    if (s.childSet) for (const c of s.childSet) visit(c);
    out.push(s);
  };
  for (const s of tops) visit(s);
  return out;
}

/** Moves `child` from `from` to `to` (POE's reparenting); `notify` tells both of it. */
export function reparent(
  child: Session,
  from: Session,
  to: Session | null,
  notify: (session: Session, event: string, args: unknown[], sender: Session) => unknown,
): void {
  from.childSet?.delete(child);
  child.parentSession = to;
  if (to) {
    (to.childSet ??= new Set()).add(child);
    to.refs++;
    notify(to, '_child', ['gain', child], from);
  }
  notify(child, '_parent', [from, to], from);
}
