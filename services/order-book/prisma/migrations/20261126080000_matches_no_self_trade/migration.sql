-- Nobody trades with themselves. The matching engine skips an owner's own orders (also when one candidate
-- read serves a whole group of incoming orders) and a take of one's own ad is refused: the table says so too.
ALTER TABLE "matches" ADD CONSTRAINT "matches_no_self_trade_check" CHECK (buyer_id <> seller_id);
