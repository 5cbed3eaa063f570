/**
 * The inbox page: one page of messages, newest first, of every user or one,
 * each with its sender, recipients, subject, time, size and an unread mark.
 * A page holds {@link PAGE_SIZE} messages, so a mailbox of 10,000 renders as
 * fast as one of 50.
 *
 * @module
 */

import type { MessagePage, MessageSummary } from "../model.ts";
import { markup, type SafeHtml } from "./html.ts";
import {
  formatSize,
  layout,
  messagePath,
  pagerHtml,
  plural,
  postButton,
  timeHtml,
  withQuery,
} from "./layout.ts";

/** How many messages one inbox page shows. */
export const PAGE_SIZE = 50;

/** What the inbox page shows. */
export interface InboxView {
  /** This page's messages and the total over all pages. */
  page: MessagePage;
  /** Every mailbox, for the mailbox links. */
  users: string[];
  /** The one mailbox shown, or undefined for all. */
  user?: string;
  /** The page number, from 1. */
  pageNumber: number;
}

/** The inbox's address for a mailbox (or all) and a page number. */
export function inboxPath(user: string | undefined, pageNumber = 1): string {
  return withQuery("/", { user, page: String(pageNumber) });
}

function mailboxLinks(view: InboxView): SafeHtml {
  const link = (user: string | undefined, label: string) => {
    const current = user === view.user ? markup` aria-current="page"` : "";
    return markup`<li><a href="${inboxPath(user)}"${current}>${label}</a></li>`;
  };
  return markup`
    <nav aria-label="Mailboxes" class="tabs">
      <ul>
    ${link(undefined, "All mailboxes")}
    ${view.users.map((user) => link(user, user))}
      </ul>
    </nav>
  `;
}

function row(message: MessageSummary, showMailbox: boolean): SafeHtml {
  const unread = message.unread
    ? markup`<span class="dot" aria-hidden="true">●</span><span class="visually-hidden">unread</span>`
    : "";
  return markup`
    <tr data-id="${message.id}"${message.unread ? markup` class="unread"` : ""}>
    <td class="mark">${unread}</td>
    <td class="from">${message.from}</td>
    <td class="to">${message.to.join(", ")}</td>
    ${showMailbox ? markup`<td class="mailbox">${message.user}</td>` : ""}
    <td class="subject"><a href="${messagePath(message.id)}">${
    message.subject ||
    markup`<em>(no subject)</em>`
  }</a></td>
    <td class="time">${timeHtml(message.date)}</td>
    <td class="size">${formatSize(message.size)}</td>
    </tr>
  `;
}

/** The messages, their count and the pager: the part of the page that live updates replace. */
function listing(view: InboxView): SafeHtml {
  const { total, messages } = view.page;
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  if (total === 0) {
    return markup`<p class="empty">No mail${view.user ? markup` for ${view.user}` : ""} yet. \
Send a message with one of the listings and it shows up here at once; \
<code>debug.ts</code> prints its half of the conversation, this page shows the server's.</p>`;
  }
  const first = (view.pageNumber - 1) * PAGE_SIZE + 1;
  const last = first + messages.length - 1;
  const showMailbox = view.user === undefined;
  const range = messages.length ? `${first}–${last} of ` : "";
  return markup`
    <p class="count">${range}${plural(total, "message")}</p>
    <table class="messages">
      <caption class="visually-hidden">Messages, newest first</caption>
      <thead>
        <tr>
    <th scope="col" class="mark"><span class="visually-hidden">Unread</span></th>
    <th scope="col" class="from">From</th>
    <th scope="col" class="to">To</th>
    ${showMailbox ? markup`<th scope="col" class="mailbox">Mailbox</th>` : ""}
    <th scope="col" class="subject">Subject</th>
    <th scope="col" class="time">Time</th>
    <th scope="col" class="size">Size</th>
        </tr>
      </thead>
      <tbody>
    ${messages.map((m) => row(m, showMailbox))}
      </tbody>
    </table>
    ${pagerHtml(view.pageNumber, pages, (page) => inboxPath(view.user, page))}
  `;
}

/** The whole inbox page. */
export function inboxPage(view: InboxView): SafeHtml {
  const title = view.user === undefined ? "Inbox" : `Inbox of ${view.user}`;
  const clear = view.user !== undefined && view.page.total > 0
    ? postButton(
      `/mailboxes/${encodeURIComponent(view.user)}/clear`,
      `Delete all ${plural(view.page.total, "message")} of ${view.user}`,
      `Delete every message in ${view.user}'s mailbox?`,
    )
    : "";
  return layout(
    { title, section: "inbox", live: "messages" },
    markup`<h1>${title}</h1>
${mailboxLinks(view)}
<div id="live">
${listing(view)}
${clear}
</div>`,
  );
}
