import { IkcError } from '@ikc/wire';
import type { Events, SessionDefinition } from './session.js';

/** The handlers of a session definition, or IKC_ERR_INVALID_ARG naming what is wrong. */
export function checkDefinition<H>(definition: SessionDefinition<H>): Events<H> {
  if (typeof definition !== 'object' || definition === null) {
    throw new IkcError('IKC_ERR_INVALID_ARG', 'spawn() takes a session definition object');
  }
  const { events } = definition;
  if (typeof events !== 'object' || events === null) {
    throw new IkcError('IKC_ERR_INVALID_ARG', 'a session definition needs `events`: an object of handlers');
  }
  for (const [name, handler] of Object.entries(events)) {
    if (typeof handler !== 'function') {
      throw new IkcError('IKC_ERR_INVALID_ARG', `events.${name} must be a function, not ${typeof handler}`);
    }
  }
  return events;
}
