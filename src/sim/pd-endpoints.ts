/**
 * Personal Directory (`/ccmpd/*.do`): log in with user id and PIN, list,
 * read, add, edit and delete Personal Address Book entries. Reads answer at
 * once; every add, edit and delete is a `pd-edit` action (slow, recorded,
 * applied when it completes). Paths, parameters and prompts: see pd-bodies.ts.
 *
 * Who is logged in is held per device name (`name=`), in this node's memory:
 * the public client pab.js logs in once and then reads and edits with plain
 * requests carrying only `name=`, which works only if the server remembers
 * the login by device. The login is node-local, so a client moved to
 * another node is asked to log in again. Pages also hold a Tomcat session
 * (cookie `JSESSIONID`, Path `/ccmpd`).
 */
import type { Endpoint } from './test-endpoints.js';
import type { PabEntryInit } from './cucm-node-api.js';
import {
  pabDialBody,
  pabEntryBody,
  pabListBody,
  pabPhonesFormBody,
  pabSearchFormBody,
  pdLoginBody,
  pdResultBody,
  PHONE_TYPES,
} from './pd-bodies.js';
import { requestSource } from './phone-actions.js';
import { answer, formParams, getOrPost, session, XML, type FlowConfig } from './flow-context.js';
import { encodeSessionUrls } from './tomcat-session.js';

type PdEdit = 'add' | 'edit' | 'delete';
type Send = (body: string) => void;
/** Starts a `pd-edit` action; `apply` makes the change at its end and returns an error text, or undefined. */
type Edit = (op: PdEdit, user: string, apply: () => string | undefined) => void;
type Page = (params: URLSearchParams, device: string, user: string | undefined, send: Send, edit: Edit) => void;
type AuthedPage = (params: URLSearchParams, device: string, user: string, book: Map<string, PabEntryInit>, send: Send, edit: Edit) => void;

function phones(params: URLSearchParams): Partial<Record<(typeof PHONE_TYPES)[number], string>> {
  const out: Partial<Record<(typeof PHONE_TYPES)[number], string>> = {};
  for (const type of PHONE_TYPES) {
    const value = params.get(type);
    if (value) out[type] = value;
  }
  return out;
}

/** Builds `/ccmpd/<action>.do` → endpoint for one node. */
export function createPdEndpoints(config: FlowConfig): ReadonlyMap<string, Endpoint> {
  const { names, db, actions } = config;
  const loggedIn = new Map<string, string>();

  const page =
    (handler: Page): Endpoint =>
    (req, res, ctx) => {
      if (!getOrPost(req, res)) return;
      const tomcat = session(config, req, res, ctx, '/ccmpd');
      const params = formParams(req, ctx.url, ctx.body);
      const device = params.get('name') ?? '';
      const send: Send = (body) => answer(res, XML, config.urlSessionIds ? encodeSessionUrls(body, '/ccmpd', tomcat) : body);
      const edit: Edit = (op, user, apply) =>
        actions.run(
          'pd-edit',
          user,
          device,
          requestSource(req),
          () => {
            const error = apply();
            return error === undefined ? { result: 'ok', detail: op } : { result: 'failed', detail: `${op}: ${error}` };
          },
          (outcome) => {
            const prompt = op === 'add' ? 'Successful add' : op === 'edit' ? 'Successful modify' : 'Successful remove';
            const text = `Entry ${op === 'delete' ? 'removed' : 'saved'}`;
            send(outcome.result === 'ok' ? pdResultBody(prompt, text) : pdResultBody('PD Error Message', outcome.detail));
          },
        );
      handler(params, device, loggedIn.get(device), send, edit);
    };

  /** Pages that need a login show the login form instead. */
  const authed = (handler: AuthedPage): Endpoint =>
    page((params, device, user, send, edit) => {
      if (user === undefined) return send(pdLoginBody(names, device));
      let book = db.pab.get(user);
      if (!book) db.pab.set(user, (book = new Map()));
      handler(params, device, user, book, send, edit);
    });

  const entryOf = (book: Map<string, PabEntryInit>, params: URLSearchParams): [string, PabEntryInit] | undefined => {
    const pkid = params.get('pkid') ?? '';
    const entry = book.get(pkid);
    return entry ? [pkid, entry] : undefined;
  };
  const notFound = pdResultBody('PD Error Message', 'Entry not found');

  return new Map<string, Endpoint>([
    ['/ccmpd/pdCheckLogin.do', page((_p, device, user, send) => send(user === undefined ? pdLoginBody(names, device) : pabSearchFormBody(names, device)))],
    [
      '/ccmpd/login.do',
      page((params, device, _user, send) => {
        const userid = params.get('userid') ?? '';
        // PD signs in with the user's PIN (pab.js: "Use the same PIN to log into PAB as your EM login PIN").
        if (userid === '' || db.pins.get(userid) !== params.get('pin')) return send(pdResultBody('PD Error Message', 'Invalid user ID or PIN'));
        loggedIn.set(device, userid);
        send(pabSearchFormBody(names, device));
      }),
    ],
    [
      '/ccmpd/pabSearch.do',
      authed((params, device, _user, book, send) => {
        const prefix = (params.get('nn') ?? '').toLowerCase();
        send(pabListBody(names, device, new Map([...book].filter(([, entry]) => entry.nickname.toLowerCase().startsWith(prefix)))));
      }),
    ],
    [
      '/ccmpd/pabEntry.do',
      authed((params, device, _user, book, send) => {
        const found = entryOf(book, params);
        if (!found) return send(notFound);
        const number = params.get('fdNumber');
        send(params.get('func') === 'dial' && number ? pabDialBody(number) : pabEntryBody(names, device, found[0], found[1]));
      }),
    ],
    ['/ccmpd/pabNewMain.do', authed((params, device, _u, _b, send) => send(pabPhonesFormBody(names, device, { nickname: params.get('n') ?? '' })))],
    [
      '/ccmpd/pabNewPhones.do',
      authed((params, _device, user, book, send, edit) => {
        const nickname = params.get('n') ?? '';
        if (nickname === '') return send(pdResultBody('PD Error Message', 'Nickname is required'));
        edit('add', user, () => void book.set(db.nextPkid(), { nickname, ...phones(params) }));
      }),
    ],
    [
      '/ccmpd/pabEditMain.do',
      authed((params, device, _u, book, send) => {
        const found = entryOf(book, params);
        send(found ? pabPhonesFormBody(names, device, { pkid: found[0] }) : notFound);
      }),
    ],
    [
      '/ccmpd/pabEditPhones.do',
      authed((params, _device, user, book, send, edit) => {
        const found = entryOf(book, params);
        if (!found) return send(notFound);
        edit('edit', user, () => (book.has(found[0]) ? void book.set(found[0], { nickname: found[1].nickname, ...phones(params) }) : 'entry not found'));
      }),
    ],
    [
      '/ccmpd/pabDeleteEntry.do',
      authed((params, _device, user, book, send, edit) => {
        const found = entryOf(book, params);
        if (!found) return send(notFound);
        edit('delete', user, () => (book.delete(found[0]) ? undefined : 'entry not found'));
      }),
    ],
  ]);
}
