/**
 * `MSG_TYPE_UI` HTML from a processor, shown in a sandboxed frame and never in the page itself.
 *
 * - `sandbox=""`: no scripts, no same-origin (the frame's origin is opaque: it cannot read the page's DOM,
 *   cookies or storage, nor call the host as the page), no forms, no popups, no top navigation.
 * - `srcdoc`: the HTML is never fetched from anywhere; the frame inherits the page's Content-Security-Policy, and
 *   a stricter one of its own forbids every load but inline styles and `data:` images.
 */
import { h } from './dom.js';

/** Larger HTML is cut (the host bounds a turn's messages too). */
export const MAX_UI_HTML_CHARS = 512 * 1024;

const FRAME_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/** The document a frame shows for `html`. */
export function uiDocument(html: string): string {
  const body = html.length > MAX_UI_HTML_CHARS ? html.slice(0, MAX_UI_HTML_CHARS) : html;
  return `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${FRAME_POLICY}"></head><body>${body}</body></html>`;
}

/** A sandboxed frame showing `html`. */
export function uiFrame(html: string): HTMLIFrameElement {
  const frame = h('iframe', {
    class: 'ui-frame',
    sandbox: '',
    referrerpolicy: 'no-referrer',
    title: 'Processor HTML (sandboxed: no scripts, no access to this page)',
  });
  frame.srcdoc = uiDocument(html);
  return frame;
}
