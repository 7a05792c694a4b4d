-- realtime_0004: the stream's one-statement reads and authorizations take a user's whole
-- claims document (realtime.reader_claims(): the token's lasting claims, sub and role as the
-- server verified them) and any role the server was granted for users
-- (THREADCAST_ALLOWED_ROLES) that does not skip RLS (realtime.check_reader_role()), instead of
-- {sub, role} and anon/authenticated only: a Supabase token is read in the same one
-- statement as any other. Idempotent: a fresh install applies sql/realtime.sql, which has all
-- of this, and then this file.

create or replace function realtime.check_reader_role(user_role text, caller text) returns void
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
    r pg_catalog.pg_roles;
begin
    if user_role in ('anon', 'authenticated') then
        return;
    end if;
    if user_role in ('threadcast', session_user) then
        raise exception '%: role % is the server''s own, not a role for users', caller, user_role
            using errcode = '42501';
    end if;
    select * into r from pg_catalog.pg_roles where rolname = user_role;
    if user_role is null or not found then
        raise exception '%: no such role %', caller, coalesce(pg_catalog.quote_literal(user_role), 'none')
            using errcode = '22023';
    end if;
    if r.rolsuper or r.rolbypassrls or pg_catalog.pg_has_role(
        user_role,
        (select c.relowner from pg_catalog.pg_class c where c.oid = 'realtime.messages'::pg_catalog.regclass),
        'USAGE'
    ) then
        raise exception '%: role % would read without row-level security', caller, user_role
            using errcode = '42501',
                  hint = 'a role for users must not be a superuser, have BYPASSRLS or own the log';
    end if;
end
$$;

create or replace function realtime.reader_claims(user_role text, user_sub text, user_claims jsonb)
returns text
language sql immutable
set search_path = pg_catalog, pg_temp
as $$
    select (case when pg_catalog.jsonb_typeof(user_claims) = 'object' then user_claims
                 else '{}'::jsonb end
            operator(pg_catalog.||) pg_catalog.jsonb_build_object('sub', user_sub, 'role', user_role))::text
$$;

-- authorize() takes the claims as a fifth argument (default null: {sub, role}); a
-- four-argument version beside it would make every call ambiguous.
drop function if exists realtime.authorize(text, text, text, text);
create or replace function realtime.authorize(
    user_role text, user_sub text, channel_prefix text, channel_argument text,
    user_claims jsonb default null
) returns boolean
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    channel realtime.channels;
    allowed boolean;
    caller_role text := pg_catalog.current_setting('role');
    caller_claims text := pg_catalog.current_setting('request.jwt.claims', true);
    caller_sub text := pg_catalog.current_setting('request.jwt.claim.sub', true);
begin
    perform realtime.check_reader_role(user_role, 'realtime.authorize');
    select * into channel from realtime.channels c where c.prefix = channel_prefix;
    if not found then
        raise exception 'realtime.authorize: no channel prefix %', channel_prefix
            using errcode = '22023';
    end if;
    perform pg_catalog.set_config('role', user_role, true),
            pg_catalog.set_config('request.jwt.claims',
                realtime.reader_claims(user_role, user_sub, user_claims), true),
            pg_catalog.set_config('request.jwt.claim.sub', coalesce(user_sub, ''), true);
    -- Both names come from realtime.channels, which only the database owner writes
    -- (register_channel() checked the function's signature).
    execute pg_catalog.format('select %s($1::%s)', channel.authorize_function, channel.argument_type)
        into allowed
        using channel_argument;
    perform pg_catalog.set_config('role', caller_role, true),
            pg_catalog.set_config('request.jwt.claims', coalesce(caller_claims, ''), true),
            pg_catalog.set_config('request.jwt.claim.sub', coalesce(caller_sub, ''), true);
    return coalesce(allowed, false);
end
$$;

create or replace function realtime.read_batch(requests jsonb)
returns table (request integer, id bigint, payload text)
language plpgsql
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
as $$
declare
    req record;
    visible bigint[];
    sent bigint[] := '{}';
    caller_role text := pg_catalog.current_setting('role');
    caller_claims text := pg_catalog.current_setting('request.jwt.claims', true);
    caller_sub text := pg_catalog.current_setting('request.jwt.claim.sub', true);
begin
    for req in
        select (e.ordinality - 1)::integer as n, e.value ->> 'role' as role,
               e.value ->> 'sub' as sub, e.value -> 'claims' as claims,
               array(select pg_catalog.jsonb_array_elements_text(e.value -> 'ids')::bigint) as ids
          from pg_catalog.jsonb_array_elements(requests) with ordinality as e(value, ordinality)
    loop
        perform realtime.check_reader_role(req.role, 'read_batch: request ' || req.n);
        perform pg_catalog.set_config('role', req.role, true),
                pg_catalog.set_config('request.jwt.claims',
                    realtime.reader_claims(req.role, req.sub, req.claims), true),
                pg_catalog.set_config('request.jwt.claim.sub', coalesce(req.sub, ''), true);

        -- Under the user's RLS: which of its ids may it see?
        select coalesce(pg_catalog.array_agg(m.id), '{}') into visible
          from realtime.messages m
         where m.id = any (req.ids);

        -- Ids already sent with an earlier identity: no payload again.
        return query
            select req.n, v, null::text
              from pg_catalog.unnest(visible) v
             where v = any (sent);
        -- Ids new in this batch: their payload, still read as this user.
        if not visible <@ sent then
            return query
                select req.n, m.id, m.payload::text
                  from realtime.messages m
                 where m.id = any (visible) and not m.id = any (sent);
            sent := sent || visible;
        end if;
    end loop;
    perform pg_catalog.set_config('role', caller_role, true),
            pg_catalog.set_config('request.jwt.claims', coalesce(caller_claims, ''), true),
            pg_catalog.set_config('request.jwt.claim.sub', coalesce(caller_sub, ''), true);
end;
$$;

-- With each user's claims on every read, a derived rule may read them too: policy_rule() no
-- longer refuses a policy over auth.jwt() or realtime.claims().
create or replace function realtime.policy_rule(tbl regclass, out expression text, out row_columns smallint[])
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
    rel_name text;
    rls boolean;
    policy record;
    permissive text[] := '{}';
    restrictive text[] := '{}';
    referenced smallint[] := '{}';
    inlinable boolean := true;
    volatile_function regprocedure;
    explicit_form text;
begin
    select c.relname, c.relrowsecurity into rel_name, rls from pg_catalog.pg_class c where c.oid = tbl;
    explicit_form := pg_catalog.format(
        'write a function of one %1$s row returning boolean that says who may see it, and pass'
        ' it: realtime.enable(%2$L, topic_template, %3$L)',
        tbl, tbl::text, 'schema.function(' || tbl::text || ')');
    if not rls then
        raise exception 'realtime.enable: table % does not have row level security enabled, so nothing says who may see its rows', tbl
            using errcode = '55000',
                  hint = 'enable row level security and add SELECT policies; or, if every reader may see every row, realtime.enable(table, topic_template, all_rows_visible => true)';
    end if;
    for policy in
        select p.polname, p.polpermissive,
               pg_catalog.pg_get_expr(p.polqual, p.polrelid) as expression,
               p.polqual::text as tree
          from pg_catalog.pg_policy p
         where p.polrelid = tbl
           and p.polcmd in ('r', '*')
           -- A policy without USING admits no row to a SELECT (as in the table's own RLS).
           and p.polqual is not null
           and exists (
               select from pg_catalog.unnest(p.polroles) as r(oid)
                where r.oid = 0 or pg_catalog.pg_has_role('authenticated', r.oid, 'USAGE'))
         order by p.polpermissive desc, p.polname
    loop
        if policy.tree ~ (':relid ' || tbl::oid::text || '\M') then
            raise exception 'realtime.enable: policy % on % reads % itself, so its answer for an event''s row would depend on the table as it is when the event is read',
                pg_catalog.quote_ident(policy.polname), tbl, tbl
                using errcode = '0A000', hint = explicit_form;
        end if;
        select f.oid::regprocedure into volatile_function
          from pg_catalog.regexp_matches(policy.tree, ':(?:funcid|opfuncid|aggfnoid|winfnoid) (\d+)', 'g') as m
          join pg_catalog.pg_proc f on f.oid = m[1]::oid
         where f.provolatile = 'v'
         limit 1;
        if found then
            raise exception 'realtime.enable: policy % on % calls volatile function %, whose answer for an event''s row may differ from the table''s',
                pg_catalog.quote_ident(policy.polname), tbl, volatile_function
                using errcode = '0A000', hint = explicit_form;
        end if;
        -- Everything the policy reads must be a column of the row (never a system column).
        begin
            execute pg_catalog.format('select (%s) from pg_catalog.unnest(array[null::%s]) as %I where false',
                                      policy.expression, tbl, rel_name);
        exception when others then
            raise exception 'realtime.enable: policy % on % cannot be judged on an event''s row: %',
                pg_catalog.quote_ident(policy.polname), tbl, sqlerrm
                using errcode = '0A000', hint = explicit_form;
        end;
        -- A subquery, or the whole row (a function of the row), needs the row as a FROM item.
        if policy.tree ~ '\{SUBLINK ' or policy.tree ~ '\{VAR :varno 1 :varattno 0 ' then
            inlinable := false;
        end if;
        referenced := referenced || array(
            select m[1]::smallint
              from pg_catalog.regexp_matches(policy.tree, '\{VAR :varno 1 :varattno (\d+) ', 'g') as m);
        if policy.polpermissive then
            permissive := permissive || ('(' || policy.expression || ')');
        else
            restrictive := restrictive || ('(' || policy.expression || ')');
        end if;
    end loop;
    if pg_catalog.cardinality(permissive) = 0 then
        raise exception 'realtime.enable: no permissive SELECT policy of % applies to role authenticated, so its select shows that role no row', tbl
            using errcode = '0A000',
                  hint = 'create one (create policy ... on ' || tbl::text || ' for select to authenticated using (...)); or ' || explicit_form;
    end if;
    expression := '(' || pg_catalog.array_to_string(permissive, ' or ') || ')'
        || coalesce(' and ' || nullif(pg_catalog.array_to_string(restrictive, ' and '), ''), '');
    if inlinable then
        row_columns := array(select distinct c from pg_catalog.unnest(referenced) as c order by c);
    end if;
end
$$;

revoke execute on function realtime.authorize(text, text, text, text, jsonb) from public;
grant execute on function realtime.authorize(text, text, text, text, jsonb) to threadcast;
-- check_reader_role() and reader_claims() keep PUBLIC's execute: read_batch() calls them after
-- it has switched to a user's role, and they reveal nothing pg_roles does not.
