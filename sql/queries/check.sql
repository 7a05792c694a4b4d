-- Named queries of `threadcast check` (server/threadcast/privileges.py): the database
-- privileges a DBA should tighten, and the engine's own rules for definer functions. Each
-- returns one row per finding: what, and what to run about it.

-- public_privileges --
-- What every login (PUBLIC) may do that it should not: hold temporary objects (the pg_temp
-- shadowing docs/security.md describes), connect without a grant, create in schema public.
select finding, fix
  from (values
    (pg_catalog.has_database_privilege('public', pg_catalog.current_database(), 'TEMPORARY'),
     'PUBLIC may create temporary tables and types in this database',
     pg_catalog.format('revoke temporary on database %I from public;', pg_catalog.current_database())),
    (pg_catalog.has_database_privilege('public', pg_catalog.current_database(), 'CONNECT'),
     'PUBLIC may connect to this database',
     pg_catalog.format('revoke connect on database %I from public; grant connect on database %I to threadcast;',
                       pg_catalog.current_database(), pg_catalog.current_database())),
    (pg_catalog.has_schema_privilege('public', 'public', 'CREATE'),
     'PUBLIC may create objects in schema public',
     'revoke create on schema public from public;')
  ) as p (holds, finding, fix)
 where p.holds

-- definer_functions --
-- SECURITY DEFINER functions of every schema but the system ones that PUBLIC may execute, or
-- that do not pin search_path to pg_catalog, pg_temp. Generated capture functions pin nothing
-- by design (every name in them is qualified), so only their EXECUTE grant is checked.
select pg_catalog.format('%s: %s', p.oid::pg_catalog.regprocedure, problem) as finding, fix
  from pg_catalog.pg_proc p
  join pg_catalog.pg_namespace n on n.oid = p.pronamespace
 cross join lateral (values
    (pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE'),
     'SECURITY DEFINER and executable by PUBLIC',
     pg_catalog.format('revoke execute on function %s from public;', p.oid::pg_catalog.regprocedure)),
    (not (p.proconfig @> array['search_path=pg_catalog, pg_temp'])
         and not (n.nspname = 'realtime' and p.proname ~ '^capture_(insert|update|delete)_'),
     'SECURITY DEFINER without search_path = pg_catalog, pg_temp',
     pg_catalog.format('alter function %s set search_path = pg_catalog, pg_temp;',
                       p.oid::pg_catalog.regprocedure))
  ) as c (holds, problem, fix)
 where p.prosecdef and c.holds
   and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_'
 order by 1

-- server_role --
-- The server's login must not be a superuser or bypass RLS: it reads as each user.
select pg_catalog.format('role threadcast has %s', attribute) as finding,
       pg_catalog.format('alter role threadcast %s;', fix) as fix
  from pg_catalog.pg_roles r
 cross join lateral (values (r.rolsuper, 'superuser', 'nosuperuser'),
                            (r.rolbypassrls, 'bypassrls', 'nobypassrls')) as a (holds, attribute, fix)
 where r.rolname = 'threadcast' and a.holds
