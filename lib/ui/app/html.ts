// htm bound to Preact's h: components are tagged templates, so the UI needs no JSX build step.
import htm from "htm";
import { h } from "preact";

export const html = htm.bind(h);
/** What a component renders. */
export type View = ReturnType<typeof html>;
