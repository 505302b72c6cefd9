-- Hand-written (no Prisma model change). A matching write goes to the server together with its COMMIT, in one
-- round trip, so what it must not commit has to be refused by the statement itself: `write_guard` raises when its
-- condition is false (the statement, and so the transaction, fails and nothing of it commits), and is true otherwise.
CREATE FUNCTION "write_guard"(p_ok boolean, p_message text) RETURNS boolean LANGUAGE plpgsql AS E'
BEGIN
  IF p_ok IS NOT TRUE THEN
    RAISE EXCEPTION ''%'', p_message USING ERRCODE = ''23514''\073
  END IF\073
  RETURN true\073
END
';
