import type { Delivery } from '../delivery.js';

/** A rendered email: subject and both bodies. */
export interface MailContent {
  subject: string;
  text: string;
  html: string;
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Subjects are one line: a CR/LF from an event title must never start a new header. */
const oneLine = (s: string): string => s.replace(/[\r\n\t]+/g, ' ').trim().slice(0, 200);

function page(inner: string, footer: string): string {
  return `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.4">${inner}<hr><p style="color:#666;font-size:small">${footer}</p></body></html>`;
}

/**
 * A notification email. The delivery's own `html` is the core's (already escaped); else its text,
 * escaped. Account mail (`unsubscribe` undefined) has no unsubscribe link: it is not optional.
 */
export function deliveryMail(d: Delivery, links: { open: string; unsubscribe?: string }): MailContent {
  const bodyHtml = d.html ?? d.body.split('\n').map((line) => `<p>${escapeHtml(line)}</p>`).join('');
  const open = `<p><a href="${escapeHtml(links.open)}">Open in Kith</a></p>`;
  if (!links.unsubscribe) {
    return { subject: oneLine(d.title), text: `${d.body}\n\nOpen in Kith: ${links.open}\n`, html: page(`${bodyHtml}${open}`, 'Kith') };
  }
  return {
    subject: oneLine(d.title),
    text: `${d.body}\n\nOpen in Kith: ${links.open}\n\n--\nStop these emails: ${links.unsubscribe}\n`,
    html: page(
      `${bodyHtml}${open}`,
      `You get this because you turned on email notifications in Kith. <a href="${escapeHtml(links.unsubscribe)}">Unsubscribe</a>`,
    ),
  };
}

export function verificationMail(code: string): MailContent {
  return {
    subject: `Your Kith code: ${code}`,
    text: `Type this code in Kith to confirm your email address:\n\n    ${code}\n\nIt works for 15 minutes. If you did not ask for it, ignore this email.\n`,
    html: page(
      `<p>Type this code in Kith to confirm your email address:</p><p style="font-size:2em;letter-spacing:.2em"><b>${code}</b></p><p>It works for 15 minutes.</p>`,
      'If you did not ask for it, ignore this email.',
    ),
  };
}

export function passwordResetMail(username: string, link: string, ttlMinutes: number): MailContent {
  return {
    subject: 'Reset your Kith password',
    text: `Someone (hopefully you) asked to reset the password of the Kith account "${username}".\n\nSet a new password here (the link works once, for ${ttlMinutes} minutes):\n${link}\n\nIf it was not you, ignore this email: your password stays as it is.\n`,
    html: page(
      `<p>Someone (hopefully you) asked to reset the password of the Kith account <b>${escapeHtml(username)}</b>.</p><p><a href="${escapeHtml(link)}">Set a new password</a> (the link works once, for ${ttlMinutes} minutes).</p>`,
      'If it was not you, ignore this email: your password stays as it is.',
    ),
  };
}

export function newDeviceMail(username: string, device: string, when: string): MailContent {
  const what = device || 'an unknown client';
  return {
    subject: 'New sign-in to your Kith account',
    text: `Your Kith account "${username}" was just signed in to from a new device:\n\n  ${what}\n  ${when}\n\nIf this was you, nothing to do. If not, reset your password now.\n`,
    html: page(
      `<p>Your Kith account <b>${escapeHtml(username)}</b> was just signed in to from a new device:</p><p>${escapeHtml(what)}<br>${escapeHtml(when)}</p>`,
      'If this was you, nothing to do. If not, reset your password now.',
    ),
  };
}
