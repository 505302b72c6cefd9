/**
 * The AAD of a saved payment method's sealed details: its owner and its id, so a sealed row cannot be moved to another
 * owner or method. The user service seals with it; trade-execution opens the snapshot a trade keeps of it.
 */
export function paymentMethodAad(ownerId: string, methodId: string): string {
  return `payment-method:v1:${ownerId}:${methodId}`;
}
