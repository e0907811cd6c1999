import { expect } from 'chai';
import { LollmsHostError } from '../../core/errors.js';

/** The coded error a promise rejects with (fails the test when it resolves or rejects with anything else). */
export async function codedRejection(promise: Promise<unknown>): Promise<LollmsHostError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(LollmsHostError);
    return error as LollmsHostError;
  }
  expect.fail('expected a rejection');
}
