/** Shapes of the routing endpoints (§25 stk. 3 coordinator changes), enforced by the routes and described in OpenAPI. */
import { z } from 'zod';

export const coordinatorChangeBodySchema = z
  .strictObject({
    staffId: z.string().min(1, 'must not be empty').describe('the health coordinator the municipality asks to replace'),
    reason: z
      .string()
      .trim()
      .min(1, 'must not be blank')
      .max(2000, 'at most 2000 characters')
      .describe('the significant problems in the cooperation the municipality judges there to be (§25 stk. 3)'),
  })
  .describe('§25 stk. 3: the municipality asks for another health coordinator');

export const coordinatorChangeSchema = z.object({
  id: z.string().uuid(),
  municipalityCode: z.string(),
  staffId: z.string(),
  requestedAt: z.string(),
  rerouted: z.array(z.string().uuid()).describe('open cases the coordinator held that were routed again (no meeting held yet)'),
});

export const coordinatorChangeListSchema = z.object({
  items: z.array(
    z.object({
      id: z.string().uuid(),
      municipalityCode: z.string(),
      requestedBy: z.string(),
      staffId: z.string(),
      reason: z.string(),
      requestedAt: z.string(),
    }),
  ),
});
