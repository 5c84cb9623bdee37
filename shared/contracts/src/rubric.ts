import { z } from 'zod';

/** A rubric written out in full: one criterion and what each score 1..5 means. */
export const rubricObjectSchema = z.strictObject({
  criteria: z.string().trim().min(1),
  score1_description: z.string().trim().min(1),
  score2_description: z.string().trim().min(1),
  score3_description: z.string().trim().min(1),
  score4_description: z.string().trim().min(1),
  score5_description: z.string().trim().min(1),
});
export type RubricObject = z.infer<typeof rubricObjectSchema>;

/** A rubric as a user gives it: a library name, a free-text criterion, or a full object. */
export const rubricSpecSchema = z.union([z.string().trim().min(1), rubricObjectSchema]);
export type RubricSpec = z.infer<typeof rubricSpecSchema>;
