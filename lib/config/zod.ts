// The one way Sous loads zod: its `zod/mini` build, with English messages. zod/mini has the same
// schemas and messages as classic zod but composes checks as functions (`z.optional(s)`,
// `s.check(z.minLength(1))`), so a bundle keeps only the parts it uses: about 20 KB in a Lambda
// bundle instead of about 440 KB for classic zod, whose `z` namespace holds every locale.
// zod/mini configures no locale, so without the line below every issue would read "Invalid input".
// Import as `import * as z from "../config/zod"` (a namespace import keeps tree shaking intact).
import { config } from "zod/mini";
import { en } from "zod/locales";

config(en());

export * from "zod/mini";
